"""The fixture generator: deterministic, truthful about every page, and its broken inputs really broken."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import pikepdf
import pytest
from PIL import Image, ImageOps

from fixtures import pages
from fixtures.broken import BROKEN_KINDS, VALID_KINDS
from fixtures.generate import _plan, main, make_broken_inputs, make_case, truth_path_for

# A cheap slice of the small case that still has every container: PDF (JPEG pages + a blank back),
# multi-page G4 TIFF, JPEG. The whole case is covered by the slow test below.
SUBSET = ("family-register.tif", "photo.jpg", "scan0001.pdf")


def _digests(root: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.iterdir())}


def _page_count(path: Path) -> int:
    head = path.read_bytes()[:5]
    if head == b"%PDF-":
        with pikepdf.open(path) as pdf:
            return len(pdf.pages)
    with Image.open(path) as im:
        return getattr(im, "n_frames", 1)


def _check_truth(truth_path: Path, case_dir: Path) -> dict:
    truth = json.loads(truth_path.read_text(encoding="utf-8"))
    assert truth_path.parent == case_dir.parent, "truth is written beside the case, not inside it"
    scans = sorted(p.name for p in case_dir.iterdir() if p.name != "case.toml")
    assert sorted(f["path"] for f in truth["files"]) == scans
    for f in truth["files"]:
        path = case_dir / f["path"]
        assert f["bytes"] == path.stat().st_size
        assert f["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
        assert [p["page_index"] for p in f["pages"]] == list(range(_page_count(path))), f["path"]
        for page in f["pages"]:
            assert isinstance(page["text"], str)
            assert page["expected_class"] in ("blank", "bilevel", "grey", "colour")
            assert (page["text"] == "") == (page["content"] in ("blank", "id-photo")), (f["path"], page)
    return truth


def test_subset_is_deterministic_and_truthful(tmp_path: Path) -> None:
    a, b = tmp_path / "a" / "case", tmp_path / "b" / "case"
    make_case("small", a, seed=3, jobs=2, only=SUBSET)
    make_case("small", b, seed=3, jobs=1, only=SUBSET)  # worker count must not change a byte
    assert _digests(a) == _digests(b)
    assert truth_path_for(a).read_bytes() == truth_path_for(b).read_bytes()
    truth = _check_truth(truth_path_for(a), a)
    assert truth["total_pages"] == 3 + 1 + 3
    contract = next(f for f in truth["files"] if f["path"] == "scan0001.pdf")
    assert [p["content"] for p in contract["pages"]] == ["text", "blank", "text"]
    assert all(0.3 <= abs(p["skew_deg"]) <= 1.5 for p in contract["pages"] if p["content"] == "text")
    with Image.open(a / "family-register.tif") as tif:
        assert tif.n_frames == 3 and tif.info["compression"] == "group4"
    toml = (a / "case.toml").read_text(encoding="utf-8")
    assert '"scan0001.pdf" = "employment-contract"' in toml


def test_seed_changes_the_scans(tmp_path: Path) -> None:
    make_case("small", tmp_path / "s1", seed=1, only=["photo.jpg"])
    make_case("small", tmp_path / "s2", seed=2, only=["photo.jpg"])
    assert _digests(tmp_path / "s1") != _digests(tmp_path / "s2")


def test_regenerating_removes_earlier_files(tmp_path: Path) -> None:
    case = tmp_path / "case"
    make_case("small", case, only=["photo.jpg", "passport.jpg"])
    make_case("small", case, only=["photo.jpg"])
    assert sorted(p.name for p in case.iterdir()) == ["case.toml", "photo.jpg"]
    make_case("small", case, only=["photo.jpg"])  # and an unchanged rerun is harmless


def test_plans_have_the_sizes_the_benchmark_needs() -> None:
    counts = {size: sum(len(f.pages) for f in _plan(size, 1)) for size in ("small", "typical", "heavy")}
    assert 10 <= counts["small"] <= 14
    assert 36 <= counts["typical"] <= 48
    assert 105 <= counts["heavy"] <= 135
    heavy = {f.name: f for f in _plan("heavy", 1)}
    fs = heavy["financial-statements.pdf"]
    assert len(fs.pages) >= 60 and {p.mode for p in fs.pages} == {"colour"}
    assert any(p.dpi == 600 for f in heavy.values() for p in f.pages)


def test_cli_writes_truth_beside_the_case(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(ValueError, match="not in the small case"):
        make_case("small", tmp_path / "x", only=["nope.pdf"])
    assert main(["broken", str(tmp_path / "broken")]) == 0
    assert "pixel-bomb.png\tpixel-bomb" in capsys.readouterr().out


# ---------------------------------------------------------------------------- broken inputs


def test_broken_inputs_cover_every_kind(tmp_path: Path) -> None:
    files = make_broken_inputs(tmp_path)
    assert set(files.values()) == set(BROKEN_KINDS)
    assert set(BROKEN_KINDS) >= VALID_KINDS
    for name in files:
        assert (tmp_path / name).stat().st_size <= 16_000, name
    by_kind = {kind: tmp_path / name for name, kind in files.items()}

    assert by_kind["zero-bytes"].stat().st_size == 0
    truncated = by_kind["truncated-jpeg"].read_bytes()
    assert truncated.startswith(b"\xff\xd8") and not truncated.endswith(b"\xff\xd9")
    with pytest.raises(OSError), Image.open(by_kind["truncated-jpeg"]) as im:
        im.load()
    assert by_kind["corrupt-pdf"].read_bytes().startswith(b"%PDF-")
    try:  # qpdf may reconstruct an xref from the debris, but never a page
        with pikepdf.open(by_kind["corrupt-pdf"]) as pdf:
            assert len(pdf.pages) == 0
    except pikepdf.PdfError:
        pass
    with pytest.raises(pikepdf.PasswordError):
        pikepdf.open(by_kind["encrypted-pdf"])
    with pikepdf.open(by_kind["owner-password-only"]) as pdf:  # opens without a password: valid input
        assert pdf.is_encrypted and len(pdf.pages) == 1
        assert not pdf.allow.print_highres and not pdf.allow.extract
    assert not by_kind["text-named-pdf"].read_bytes().startswith(b"%PDF")
    assert by_kind["random-bytes-jpg"].read_bytes()[:2] != b"\xff\xd8"
    with pytest.raises(Image.DecompressionBombError):
        Image.open(by_kind["pixel-bomb"])
    with Image.open(by_kind["one-pixel"]) as im:
        assert im.size == (1, 1)


def test_broken_inputs_are_deterministic(tmp_path: Path) -> None:
    make_broken_inputs(tmp_path / "a")
    make_broken_inputs(tmp_path / "b")
    assert _digests(tmp_path / "a") == _digests(tmp_path / "b")


# ---------------------------------------------------------------------------- page helpers


def test_text_page_size_and_truth() -> None:
    img, text = pages.text_page(300, lines=["在職証明書", "Certificate of Employment"], seed=1)
    assert img.mode == "L" and img.size == (2480, 3508)
    assert text == "在職証明書\nCertificate of Employment"
    small, _ = pages.text_page(200, size_mm=(105, 148))
    assert small.size == (827, 1165)


def test_colour_seal_is_red_and_faint_page_is_not_blank() -> None:
    img, _ = pages.text_page(150, colour_seal=True, seed=2)
    assert img.mode == "RGB"
    r, g, b = (band.point(lambda v: v) for band in img.split())
    redness = Image.eval(Image.merge("RGB", (r, g, b)).convert("HSV").getchannel("S"), lambda v: 255 if v > 120 else 0)
    assert redness.getbbox() is not None, "a saturated (red) seal is on the page"
    faint, _ = pages.text_page(150, faint=True, seed=2)
    blank = pages.blank_page(150, noise=True, seed=2)
    assert faint.getextrema()[0] < blank.getextrema()[0] - 20, "faint print is darker than paper noise"


def test_residence_card_photo_is_a_phone_jpeg() -> None:
    data, text = pages.residence_card_photo(side="front", seed=1)
    with Image.open(io.BytesIO(data)) as im:
        assert im.format == "JPEG" and im.size == (4000, 3000)
        assert im.getexif()[0x0112] == 6
        assert im.info["dpi"] == (72, 72)
        assert ImageOps.exif_transpose(im).size == (3000, 4000)
    assert "AB12345678CD" in text and "在留カード" in text


def test_passport_mrz_check_digits() -> None:
    # ICAO 9303 part 3 specimen values.
    assert pages.mrz_check_digit("L898902C3") == "6"
    assert pages.mrz_check_digit("740812") == "2"
    assert pages.mrz_check_digit("120415") == "9"
    line1, line2 = pages.mrz_lines("MILLER", "JAMES ROBERT", "586209145", "USA", "870305", "M", "320613")
    assert len(line1) == len(line2) == 44
    img, text = pages.passport_page(150, seed=1)
    assert img.mode == "RGB" and line1 in text.splitlines() and line2 in text.splitlines()


def test_id_photo_is_portrait() -> None:
    img = pages.id_photo(seed=1, width_px=300, height_px=400)
    assert img.size == (300, 400) and img.mode == "RGB"


# ---------------------------------------------------------------------------- the whole small case


@pytest.mark.slow
def test_small_case_whole(tmp_path: Path) -> None:
    a, b = tmp_path / "a" / "small", tmp_path / "b" / "small"
    truth_path = make_case("small", a, seed=1)
    make_case("small", b, seed=1)
    assert _digests(a) == _digests(b)
    truth = _check_truth(truth_path, a)
    assert 12_000_000 <= truth["total_bytes"] <= 19_000_000
    kinds = {f["kind"] for f in truth["files"]}
    assert {"passport", "residence-card", "photo", "employment-certificate", "family-register"} <= kinds

"""recognise: a document's kind from its first page (OCR of the title, the passport's zone, the
residence card's words, an ID photo without text), only where case.toml and the name say nothing."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import img2pdf
import pytest
from PIL import Image

from fixtures.pages import encode_jpeg, id_photo, text_page
from packager import recognise
from packager.intake import scan_case
from packager.profiles import load_kinds, load_system_profile

SYSTEM = load_system_profile()
KINDS = load_kinds()
needs_ocr = pytest.mark.skipif(recognise.tesseract_problem() is not None, reason="tesseract jpn+eng not installed")


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("令和8年度（令和7年中の所得）\n住民税 課税 (非課税) 証明書\n住所 東京都", "tax-certificate"),
        ("納 税 証 明 書\n住所", "tax-payment-certificate"),  # one character from 課税証明書: exact only
        ("在 職 証 明 書\n証明番号", "employment-certificate"),
        ("履歴 |\n項全部証明書\n株式会社", "company-registry"),  # OCR lost a character: tolerated
        ("UNIVERSITY OF OREGON — OFFICIAL ACADEMIC TRANSCRIPT", "transcript"),
        ("Dear Sir,\nplease find attached", None),
    ],
)
def test_titles_are_matched_with_ocr_tolerance(text: str, kind: str | None) -> None:
    found = recognise.match_title(text, KINDS)
    assert (found[0] if found else None) == kind


def test_a_near_title_in_a_body_needs_cue_words_first() -> None:
    # A card's back: 在留期間更新等許可申請欄 is one edit from 在留期間更新許可申請書 (the form).
    text = "住居地記載棚\n在留期間更新等許可申請欄\n在留期間更新許可申請中"
    assert recognise.match_words(text, KINDS) == ("residence-card", "在留期間更新等許可申請欄")


def test_passport_machine_readable_zone() -> None:
    assert recognise.is_passport_mrz("VISAS\nP<USAMILLER<<JAMES<ROBERT<<<<<<<<<<<<<<<<<<<\n")
    assert recognise.is_passport_mrz("5862091452USA8703053M3206135<<<<<<<<<<<<<<04")
    assert not recognise.is_passport_mrz("<<<<< a row of arrows <<<<<")


def _scan_pdf(lines: list[str], seed: int) -> bytes:
    img, _ = text_page(150, lines=lines, seed=seed, pt=16, noise=False)
    return img2pdf.convert(encode_jpeg(img, 85, 150), nodate=True, engine=img2pdf.Engine.internal)


def test_only_unnamed_files_are_read_and_without_ocr_they_stay_other(tmp_path: Path) -> None:
    (tmp_path / "scan0001.pdf").write_bytes(_scan_pdf(["納税証明書"], 1))
    (tmp_path / "passport.pdf").write_bytes(_scan_pdf(["納税証明書"], 2))
    inputs = scan_case(tmp_path, SYSTEM).inputs
    seen: list[str] = []

    def fake_ocr(image: Image.Image) -> str:
        seen.append("x")
        return "納 税 証 明 書"

    out, warnings = recognise.assign_kinds(inputs, KINDS, SYSTEM, ocr=fake_ocr)
    kinds = {i.path: (i.kind, i.kind_from) for i in out}
    assert kinds == {"scan0001.pdf": ("tax-payment-certificate", "content"), "passport.pdf": ("passport", "name")}
    assert len(seen) == 1 and warnings == []  # the named file is never read; the title is in the top third

    recognise.tesseract_problem.cache_clear()
    try:
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(recognise.shutil, "which", lambda name: None)
            out, warnings = recognise.assign_kinds(inputs, KINDS, SYSTEM)
    finally:
        recognise.tesseract_problem.cache_clear()
    assert {i.path: i.kind for i in out}["scan0001.pdf"] == "other"
    assert len(warnings) == 1 and "tesseract" in warnings[0] and "scan0001.pdf" in warnings[0]


def test_card_front_merges_before_its_back(tmp_path: Path) -> None:
    for name in ("residence-card-back.jpg", "residence-card-front.jpg"):
        (tmp_path / name).write_bytes(encode_jpeg(text_page(100, seed=3, noise=False)[0], 80, 100))
    assert [i.path for i in scan_case(tmp_path, SYSTEM).inputs] == [
        "residence-card-front.jpg",
        "residence-card-back.jpg",
    ]


@needs_ocr
def test_photo_without_text_is_the_id_photo(tmp_path: Path) -> None:
    buf = io.BytesIO()
    id_photo(seed=4).save(buf, "JPEG", quality=90, dpi=(350, 350))
    (tmp_path / "IMG_4032.jpg").write_bytes(buf.getvalue())
    (inp,) = recognise.recognise_case(scan_case(tmp_path, SYSTEM), SYSTEM).inputs
    assert (inp.kind, inp.kind_from) == ("photo", "content")


@needs_ocr
def test_build_records_how_each_kind_was_decided(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    from packager.cli import main

    case = tmp_path / "case"
    case.mkdir()
    (case / "scan0001.pdf").write_bytes(_scan_pdf(["在 職 証 明 書", "上記の者は当社に在職していることを証明します。"], 5))  # noqa: E501
    (case / "passport.pdf").write_bytes(_scan_pdf(["PASSPORT"], 6))
    (case / "case.toml").write_text('[documents]\n"notes.pdf" = "statement-of-reasons"\n', encoding="utf-8")
    (case / "notes.pdf").write_bytes(_scan_pdf(["理由書"], 7))
    (case / "zzz.pdf").write_bytes(_scan_pdf(["Hello"], 8))
    assert main(["build", str(case), "--out", str(tmp_path / "out"), "--jobs", "1"]) == 0
    m = json.loads((tmp_path / "out" / "manifest.json").read_text("utf-8"))
    decided = {i["path"]: (i["kind"], i["kind_from"]) for i in m["inputs"]}
    assert decided == {
        "scan0001.pdf": ("employment-certificate", "content"),
        "passport.pdf": ("passport", "name"),
        "notes.pdf": ("statement-of-reasons", "case.toml"),
        "zzz.pdf": ("other", "default"),
    }
    printed = capsys.readouterr().out
    assert "scan0001.pdf: employment-certificate (title '在職証明書')" in printed
    assert "kind unknown, packaged as 'other': zzz.pdf" in printed
    main(["check", str(case), "--jobs", "1"])  # check reads and shows the same kinds
    checked = capsys.readouterr().out
    assert "Kinds read from the pages" in checked and "scan0001.pdf: employment-certificate" in checked


def scanner_named_case(bundle: Path, folder: Path) -> dict[str, str]:
    """The bundle's files as a copier names them (scan0001.*, in the bundle's order), a case.toml
    without [documents]; {new name: true kind}."""
    truth = json.loads(Path(f"{bundle}.truth.json").read_text("utf-8"))
    folder.mkdir(parents=True)
    expected = {}
    for n, f in enumerate(truth["files"], 1):
        name = f"scan{n:04d}{Path(f['path']).suffix}"
        shutil.copyfile(bundle / f["path"], folder / name)
        expected[name] = f["kind"]
    toml = (bundle / "case.toml").read_text("utf-8").split("[documents]")[0]
    (folder / "case.toml").write_text(toml, encoding="utf-8")
    return expected


@needs_ocr
@pytest.mark.slow
def test_scanner_named_typical_bundle_gets_its_kinds(tmp_path: Path) -> None:
    """≥ 90 % of the files of the typical bundle, named scan0001… by a copier, get their kind from
    their first page, the ID photo included (measured: 19 of 19; heavy: see README)."""
    from fixtures.generate import make_case

    make_case("typical", tmp_path / "bundle", seed=1)
    expected = scanner_named_case(tmp_path / "bundle", tmp_path / "scans")
    found = recognise.recognise_case(scan_case(tmp_path / "scans", SYSTEM), SYSTEM, jobs=2)
    got = {i.path: i.kind for i in found.inputs}
    right = [n for n, k in expected.items() if got.get(n) == k]
    assert len(right) >= 0.9 * len(expected), {n: (k, got.get(n)) for n, k in expected.items() if n not in right}
    photo = next(n for n, k in expected.items() if k == "photo")
    assert got[photo] == "photo"
    assert all(i.kind_from == "content" for i in found.inputs if got[i.path] != "other")

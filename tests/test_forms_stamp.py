"""packager.forms.stamp: the receipt number on the cover sheet and on every mailed page.

The OUT folders here are made by `make_out`, a small stand-in for what `build` writes:
mailed documents as image-only A4 pages (as scans are), their pristine copies, and a
manifest.json. Pages are read back the way a user's reader would: pdftotext, pypdfium2.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import shutil
import subprocess
import unicodedata
from pathlib import Path

import numpy as np
import pikepdf
import pypdfium2 as pdfium
import pytest
from PIL import Image, ImageDraw
from reportlab.lib.pagesizes import A4
from reportlab.lib.utils import ImageReader
from reportlab.pdfgen.canvas import Canvas

from packager.errors import ExitCode, StampError
from packager.forms.stamp import band_is_clear, stamp_pdf
from packager.forms.texts import load_stamp
from packager.outbox import stamp as stamp_case

RECEIPT = "福オンＥＮ25001878"
CORRECTED = "福オンＥＮ25001879"
NAME = "山田 花子"
DAY = dt.date(2026, 2, 6)
FILED = dt.date(2026, 2, 5)

needs_poppler = pytest.mark.skipif(shutil.which("pdftotext") is None, reason="poppler-utils not installed")


# ---------------------------------------------------------------------------- fixtures


def _scan(seed: int, *, top_mm: float, dpi: int = 100) -> Image.Image:
    """A page image like a scan: grey-ish text lines from `top_mm` down to a 20 mm bottom margin."""
    rng = np.random.default_rng(seed)
    width, height = round(210 / 25.4 * dpi), round(297 / 25.4 * dpi)
    img = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(img)
    px = dpi / 25.4
    y = top_mm * px
    while y < height - 20 * px:
        x = 20 * px
        while x < width - 20 * px:
            w = rng.integers(int(3 * px), int(15 * px))
            draw.rectangle([x, y, min(x + w, width - 20 * px), y + 2.5 * px], fill=int(rng.integers(0, 80)))
            x += w + 2 * px
        y += 6 * px
    return img


def _image_pdf(images: list[Image.Image], rotate: tuple[int, ...] = ()) -> bytes:
    buf = io.BytesIO()
    c = Canvas(buf, pagesize=A4, invariant=1)
    for img in images:
        c.drawImage(ImageReader(img), 0, 0, width=A4[0], height=A4[1])
        c.showPage()
    c.save()
    with pikepdf.open(io.BytesIO(buf.getvalue())) as pdf:
        for page, angle in zip(pdf.pages, [*rotate, *[0] * len(images)], strict=False):
            # A scan holds no font; reportlab's page preamble names Helvetica regardless.
            if "/Font" in page.obj.Resources:
                del page.obj.Resources["/Font"]
            if angle:
                page.obj.Rotate = angle
        out = io.BytesIO()
        pdf.save(out, deterministic_id=True)
        return out.getvalue()


def make_out(root: Path, *, with_cover: bool = True) -> Path:
    """An OUT folder as `build` leaves it when two documents are mailed."""
    out = root / "OUT"
    docs = [
        # (file, document, ja, en, bytes): a statement with clear margins, 3 pages
        ("03-financial-statements.pdf", "financial-statements", "決算書", "Financial statements",
         _image_pdf([_scan(i, top_mm=22) for i in range(3)])),
        # a register whose first page is printed right up to the top edge, second rotated
        ("05-company-register.pdf", "company-register", "登記事項証明書", "Certificate of registered matters",
         _image_pdf([_scan(10, top_mm=2), _scan(11, top_mm=25)], rotate=(0, 90))),
    ]
    outputs: list[dict[str, object]] = []
    if with_cover:
        outputs.append({"path": "mail/00-cover-sheet.pdf", "destination": "mail", "document": "cover-sheet",
                        "title": "送付状", "bytes": 0, "sha256": "", "pages": []})
        (out / "mail").mkdir(parents=True)
        (out / "mail/00-cover-sheet.pdf").write_bytes(b"%PDF-1.4 placeholder")
    (out / "upload").mkdir(parents=True, exist_ok=True)
    (out / "upload/00-declaration.pdf").write_bytes(b"%PDF-1.4 placeholder")
    outputs.append({"path": "upload/00-declaration.pdf", "destination": "upload", "document": "declaration",
                    "title": "資料添付に係る申告書", "bytes": 20, "sha256": "", "pages": []})
    for name, key, ja, en, data in docs:
        for folder in ("mail", ".packager/pristine"):
            (out / folder).mkdir(parents=True, exist_ok=True)
            (out / folder / name).write_bytes(data)
        outputs.append({
            "path": f"mail/{name}", "destination": "mail", "document": key, "title": f"{ja} {en}",
            "name_ja": ja, "name_en": en, "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest(),
            "pristine": f".packager/pristine/{name}", "pages": [],
        })
    manifest = {
        "case": {
            "application": "extension", "status": "engineer-humanities-international",
            "current_status": "engineer-humanities-international",
            "applicant": {"name": NAME, "nationality": "ベトナム", "birth_date": "1994-03-12",
                          "residence_card_number": "AB12345678CD"},
            "bureau": "福岡出入国在留管理局", "sender": "",
        },
        "outputs": outputs,
        "stamp": None,
    }
    (out / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8")
    return out


def _text(path: Path, page: int | None = None) -> str:
    args = ["pdftotext", "-enc", "UTF-8"]
    if page is not None:
        args += ["-f", str(page), "-l", str(page)]
    done = subprocess.run([*args, str(path), "-"], capture_output=True, check=True)
    return unicodedata.normalize("NFKC", done.stdout.decode("utf-8"))


def _pages(path: Path) -> int:
    with pikepdf.open(path) as pdf:
        return len(pdf.pages)


def _render(path: Path, dpi: int = 72) -> list[np.ndarray]:
    doc = pdfium.PdfDocument(str(path))
    try:
        pages = [doc[i].render(scale=dpi / 72, grayscale=True) for i in range(len(doc))]
        return [np.asarray(p.to_pil().convert("L")) for p in pages]
    finally:
        doc.close()


# ---------------------------------------------------------------------------- tests


@needs_poppler
def test_stamp_puts_the_number_on_the_cover_and_every_mailed_page(tmp_path: Path) -> None:
    out = make_out(tmp_path)
    result = stamp_case(out, f"  {RECEIPT}\n", FILED, on_date=DAY)
    assert result.receipt == RECEIPT
    assert result.files == ("mail/03-financial-statements.pdf", "mail/05-company-register.pdf")
    assert result.pages == 5
    want = unicodedata.normalize("NFKC", RECEIPT)
    cover = out / result.cover_sheet
    assert want in _text(cover)
    assert NAME.replace(" ", "") in _text(cover).replace(" ", "")
    for rel in result.files:
        path = out / rel
        n = _pages(path)
        for i in range(1, n + 1):
            text = _text(path, i)
            assert want in text, (rel, i)
            assert f"page {i} / {n}" in text
            assert "Receipt No." in text


def test_band_was_clear_before_and_content_is_untouched_outside_it(tmp_path: Path) -> None:
    out = make_out(tmp_path)
    cfg = load_stamp()
    pristine = _render(out / ".packager/pristine/03-financial-statements.pdf")
    assert all(band_is_clear(g, 72, cfg) for g in pristine)
    stamp_case(out, RECEIPT, None, on_date=DAY)
    stamped = _render(out / "mail/03-financial-statements.pdf")
    band_bottom = round(cfg.band_mm * 72 / 25.4)
    for before, after in zip(pristine, stamped, strict=True):
        assert before.shape == after.shape
        # The stamp is in the band …
        assert np.count_nonzero(after[:band_bottom] < 128) > 50
        # … and nothing of the page below the band changed.
        diff = np.abs(before[band_bottom:].astype(int) - after[band_bottom:].astype(int))
        assert int(diff.max()) <= 2


def test_page_printed_to_the_edge_is_shrunk_below_the_band(tmp_path: Path) -> None:
    out = make_out(tmp_path)
    cfg = load_stamp()
    pristine = out / ".packager/pristine/05-company-register.pdf"
    before = _render(pristine)
    assert not band_is_clear(before[0], 72, cfg)  # the fixture prints into the band
    assert band_is_clear(before[1], 72, cfg)
    # Stamp with an empty line: what is left in the band is the page itself.
    path = tmp_path / "shrunk.pdf"
    with path.open("wb") as f:
        stamps = stamp_pdf(pristine, lambda page, pages: "", cfg, f)
    assert [s.shrunk for s in stamps] == [True, False]
    assert 0.9 < stamps[0].scale < 1.0
    after = _render(path)
    assert band_is_clear(after[0], 72, cfg)
    assert after[0].shape == before[0].shape  # same sheet size: printed at A4
    assert np.count_nonzero(after[0] < 128) > 0.9 * np.count_nonzero(before[0] < 128)  # content kept


def test_rotated_page_is_stamped_at_its_visible_top(tmp_path: Path) -> None:
    out = make_out(tmp_path)
    cfg = load_stamp()
    stamp_case(out, RECEIPT, None, on_date=DAY)
    rendered = _render(out / "mail/05-company-register.pdf")[1]
    assert rendered.shape[1] > rendered.shape[0]  # displayed landscape
    band_bottom = round(cfg.band_mm * 72 / 25.4)
    assert np.count_nonzero(rendered[:band_bottom] < 128) > 50
    # The stamp reads left to right at the top: no ink along the sides' margins.
    assert np.count_nonzero(rendered[:, :5] < 128) == 0


@needs_poppler
def test_restamp_leaves_only_the_corrected_number(tmp_path: Path) -> None:
    out = make_out(tmp_path)
    stamp_case(out, RECEIPT, FILED, on_date=DAY)
    counts = {p.name: _pages(p) for p in (out / "mail").glob("*.pdf")}
    result = stamp_case(out, CORRECTED, FILED, on_date=DAY)
    old = unicodedata.normalize("NFKC", RECEIPT)
    new = unicodedata.normalize("NFKC", CORRECTED)
    for path in [out / result.cover_sheet, *(out / f for f in result.files)]:
        text = _text(path)
        assert new in text
        assert old not in text
        raw = path.read_bytes()
        assert RECEIPT.encode("utf-16-be") not in raw and old.encode() not in raw
        assert _pages(path) == counts[path.name]
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["stamp"]["receipt"] == CORRECTED


def test_page_counts_unchanged_and_pristine_untouched(tmp_path: Path) -> None:
    out = make_out(tmp_path)
    pristine = {p.name: p.read_bytes() for p in (out / ".packager/pristine").iterdir()}
    stamp_case(out, RECEIPT, None, on_date=DAY)
    for name, data in pristine.items():
        assert (out / ".packager/pristine" / name).read_bytes() == data
        with pikepdf.open(io.BytesIO(data)) as pdf:
            assert _pages(out / "mail" / name) == len(pdf.pages)


def test_manifest_records_the_stamp_and_new_digests(tmp_path: Path) -> None:
    out = make_out(tmp_path)
    stamp_case(out, RECEIPT, FILED, on_date=DAY)
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["stamp"]["receipt"] == RECEIPT
    assert manifest["stamp"]["filing_date"] == "2026-02-05"
    assert manifest["stamp"]["stamped_at_pages"] == 5
    for entry in manifest["outputs"]:
        if entry["destination"] != "mail":
            continue
        data = (out / entry["path"]).read_bytes()
        assert entry["bytes"] == len(data)
        assert entry["sha256"] == hashlib.sha256(data).hexdigest()


def test_stamp_is_deterministic(tmp_path: Path) -> None:
    a = make_out(tmp_path / "a")
    b = make_out(tmp_path / "b")
    stamp_case(a, RECEIPT, FILED, on_date=DAY)
    stamp_case(b, RECEIPT, FILED, on_date=DAY)
    for rel in ("mail/00-cover-sheet.pdf", "mail/03-financial-statements.pdf", "mail/05-company-register.pdf"):
        assert (a / rel).read_bytes() == (b / rel).read_bytes(), rel
    # Stamping twice with the same number gives the same bytes (from pristine each time).
    first = (a / "mail/05-company-register.pdf").read_bytes()
    stamp_case(a, RECEIPT, FILED, on_date=DAY)
    assert (a / "mail/05-company-register.pdf").read_bytes() == first


def test_cover_sheet_is_created_when_the_manifest_lists_none(tmp_path: Path) -> None:
    out = make_out(tmp_path, with_cover=False)
    result = stamp_case(out, RECEIPT, None, on_date=DAY)
    assert result.cover_sheet == "mail/00-cover-sheet.pdf"
    assert (out / result.cover_sheet).read_bytes().startswith(b"%PDF-")
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert any(o["document"] == "cover-sheet" for o in manifest["outputs"])


@needs_poppler
def test_stamped_files_embed_every_font(tmp_path: Path) -> None:
    out = make_out(tmp_path)
    result = stamp_case(out, RECEIPT, FILED, on_date=DAY)
    for rel in [result.cover_sheet, *result.files]:
        listing = subprocess.run(["pdffonts", str(out / rel)], capture_output=True, text=True, check=True).stdout
        rows = listing.splitlines()[2:]
        assert rows, rel
        for row in rows:
            assert row.split()[-5] == "yes", row  # emb column
        assert "Helvetica" not in listing


def test_no_manifest_is_a_one_line_stamp_error(tmp_path: Path) -> None:
    with pytest.raises(StampError) as e:
        stamp_case(tmp_path, RECEIPT, None)
    assert e.value.exit_code == ExitCode.STAMP_ERROR
    assert "\n" not in str(e.value)
    assert "manifest.json" in str(e.value)


def test_nothing_mailed_is_refused(tmp_path: Path) -> None:
    out = make_out(tmp_path)
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    manifest["outputs"] = [o for o in manifest["outputs"] if o["destination"] == "upload"]
    (out / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(StampError, match="nothing is mailed"):
        stamp_case(out, RECEIPT, None)


def test_bad_receipt_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    out = make_out(tmp_path)
    before = (out / "mail/03-financial-statements.pdf").read_bytes()
    with pytest.raises(StampError):
        stamp_case(out, "福オン\x0025001878", None)
    assert (out / "mail/03-financial-statements.pdf").read_bytes() == before


def test_manifest_path_outside_out_is_refused(tmp_path: Path) -> None:
    out = make_out(tmp_path)
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    manifest["outputs"][-1]["path"] = "../escape.pdf"
    (out / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(StampError, match="outside OUT"):
        stamp_case(out, RECEIPT, None)


def test_missing_pristine_after_a_stamp_is_refused(tmp_path: Path) -> None:
    out = make_out(tmp_path)
    stamp_case(out, RECEIPT, None, on_date=DAY)
    (out / ".packager/pristine/03-financial-statements.pdf").unlink()
    with pytest.raises(StampError, match="pristine"):
        stamp_case(out, CORRECTED, None, on_date=DAY)


def test_no_temporaries_left(tmp_path: Path) -> None:
    out = make_out(tmp_path)
    stamp_case(out, RECEIPT, None, on_date=DAY)
    assert not [p for p in out.rglob(".tmp-*")]

"""write: an upload document takes each page from the spool, or its original from the source."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import img2pdf
import pikepdf

from fixtures.pages import text_page
from packager import write
from packager.encode import PageTask, analyse_page, spool_path
from packager.intake import scan_case
from packager.model import CaseInfo, Document, PageAnalysis, Plan, PlannedDocument
from packager.pages import describe_pages
from packager.profiles import load_kinds, load_system_profile

SYSTEM = load_system_profile()


def _scan_pdf(case: Path) -> None:
    """A two-page scan as scanners write it: one JPEG over each page."""
    pages = []
    for seed in (1, 2):
        image, _ = text_page(300, seed=seed, size_mm=(105, 148), pt=9)
        buf = io.BytesIO()
        image.save(buf, "JPEG", quality=90, dpi=(300, 300))
        pages.append(buf.getvalue())
    (case / "letter.pdf").write_bytes(img2pdf.convert(pages, layout_fun=img2pdf.get_fixed_dpi_layout_fun((300, 300))))


def _analysed(case: Path, spool: Path, rungs: tuple[int, ...] | None) -> list[PageAnalysis]:
    inp = scan_case(case, SYSTEM).inputs[0]
    out = []
    for page in describe_pages(inp, SYSTEM):
        task = PageTask(page, f"t{page.page_index}", SYSTEM.ladders, SYSTEM.max_dpi, False, spool, rungs=rungs,
                        first_pass=SYSTEM.first_pass_rungs)
        result = analyse_page(task)
        assert isinstance(result, PageAnalysis)
        out.append(result)
    return out


def test_an_encoded_pages_original_is_measured_not_spooled_and_taken_from_the_source(tmp_path: Path) -> None:
    """A page the first pass encodes keeps its original as a candidate of exact size, without
    writing it to the spool; when the plan takes it, the upload holds the source's own stream.
    A page only looked at (rungs ()) is spooled: the plan most likely takes it."""
    case, spool = tmp_path / "case", tmp_path / "spool"
    for folder in (case, spool, tmp_path / "spool-looked"):
        folder.mkdir()
    _scan_pdf(case)
    encoded = _analysed(case, spool, rungs=None)
    looked = _analysed(case, tmp_path / "spool-looked", rungs=())
    for a in encoded:
        original = a.candidates[0]
        assert (original.encoding.method, original.spooled) == ("original", False)
        assert not spool_path(spool, a.spool_key, 0).exists()
        assert all(c.spooled and spool_path(spool, a.spool_key, c.spool_index).exists() for c in a.candidates[1:])
    assert all(a.candidates[0].spooled and spool_path(tmp_path / "spool-looked", a.spool_key, 0).exists()
               for a in looked)

    kind = load_kinds()["other"]
    doc = Document("other-letter", kind, "letter", (), tuple(encoded))
    planned = PlannedDocument(doc, "upload", (0, 1), "01-letter.pdf")  # the original of page 1, a rung of page 2
    out = tmp_path / "out"
    target = write.Target(out, spool, False, CaseInfo(), dt.date(2026, 1, 1), None, 1)
    (record,) = write.write_plan(target, Plan(25_000_000, 25_000_000, 0, (planned,), 1))
    assert [p.bytes_ for p in record.pages] == [encoded[0].candidates[0].bytes_, encoded[1].candidates[1].bytes_]
    with pikepdf.open(case / "letter.pdf") as src, pikepdf.open(out / record.path) as pdf:
        (source_image,) = src.pages[0].get_images().values()
        (uploaded,) = pdf.pages[0].get_images().values()
        assert uploaded.read_raw_bytes() == source_image.read_raw_bytes()
        (rung_image,) = pdf.pages[1].get_images().values()
        assert rung_image.Filter != "/DCTDecode"  # page 2 at its text rung

"""`packager stamp OUT --receipt NUMBER`: put the receipt number on everything mailed.

After online filing the ISA issues an application receipt number (申請受付番号); the
documents mailed afterwards must show it. This module regenerates the cover sheet with
the number (large type and a QR code) and prints, in the top margin of every page of
every mailed document,

    申請受付番号 Receipt No. NUMBER — NAME — page i / n

Rules:
- Always from the pristine copy (OUT/.packager/pristine/…), never onto a stamped file:
  stamping again with a corrected number leaves only the new number.
- Never over content: the band the stamp goes in is rendered (pypdfium2, low dpi) and
  must be white; when it is not, the page is shrunk about its horizontal centre below
  the band (placed as a form XObject) so the stamp has clear paper.
- Every write is atomic; manifest.json last, so it describes what is on disk.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path, PurePosixPath
from typing import Any, BinaryIO

import numpy as np
import pikepdf
import pypdfium2 as pdfium
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfgen.canvas import Canvas

from packager.atomic import atomic_open, atomic_write_bytes, atomic_write_text
from packager.errors import StampError
from packager.forms.cover import render_cover_sheet
from packager.forms.fonts import GOTHIC, missing_glyphs, register_fonts
from packager.forms.receipt import validate_receipt
from packager.forms.texts import StampTexts, load_stamp
from packager.model import Applicant, CaseInfo, DocumentSummary

MM = 72 / 25.4
MANIFEST = "manifest.json"
PRISTINE_DIR = ".packager/pristine"
DEFAULT_COVER = "mail/00-cover-sheet.pdf"


@dataclass(frozen=True)
class StampResult:
    """What `stamp_case` did. Paths are relative to OUT, POSIX separators."""

    receipt: str  # as printed (surrounding whitespace stripped)
    filing_date: dt.date | None
    cover_sheet: str  # the regenerated cover sheet
    files: tuple[str, ...]  # stamped mailed documents, in order
    pages: int  # pages stamped (cover sheet not counted)
    shrunk_pages: int  # pages scaled down to free the stamp band


@dataclass(frozen=True)
class PageStamp:
    """How one page was stamped."""

    page_index: int  # 0-based
    shrunk: bool  # the band held content, so the page was scaled below it
    scale: float  # 1.0 unless shrunk


def stamp_case(
    out_dir: Path,
    receipt: str,
    filing_date: dt.date | None,
    *,
    on_date: dt.date | None = None,
    texts_dir: Path | None = None,
) -> StampResult:
    """Stamp the mailed set in `out_dir` with `receipt`; `on_date` dates the cover sheet (today)."""
    number = validate_receipt(receipt)
    register_fonts()
    missing = missing_glyphs(number, GOTHIC)
    if missing:
        raise StampError(
            f"the receipt number holds characters the embedded font cannot print ({missing}): check --receipt"
        )
    cfg = load_stamp(texts_dir)
    manifest_path = out_dir / MANIFEST
    manifest = _read_manifest(manifest_path)
    case = case_from_manifest(manifest.get("case"))
    outputs = manifest.get("outputs")
    if not isinstance(outputs, list):
        raise StampError(f"{manifest_path}: has no list of outputs: rebuild OUT with `packager build`")
    mailed = sorted(
        (o for o in outputs if _is_mailed_document(o)),
        key=lambda o: str(o.get("path", "")),
    )
    if not mailed:
        raise StampError(f"{out_dir}: nothing is mailed in this case, so there is nothing to stamp")
    already_stamped = manifest.get("stamp") is not None

    files: list[str] = []
    summaries: list[DocumentSummary] = []
    total_pages = shrunk_pages = 0
    for entry in mailed:
        rel = _relative(out_dir, entry.get("path"), "path")
        target = out_dir / rel
        pristine = out_dir / _relative(out_dir, entry.get("pristine") or f"{PRISTINE_DIR}/{PurePosixPath(rel).name}",
                                       "pristine")
        if not pristine.is_file():
            if already_stamped or not target.is_file():
                raise StampError(
                    f"{pristine}: the pristine copy of {rel} is missing, so it cannot be restamped: rebuild OUT"
                )
            # A build that kept no pristine copy: the mailed file is still unstamped, keep it.
            with target.open("rb") as src, atomic_open(pristine) as f:
                shutil.copyfileobj(src, f, 1 << 20)
            entry["pristine"] = str(pristine.relative_to(out_dir).as_posix())
        # Mailed documents are full-quality scans (150 MB for 60 pages is ordinary): the
        # stamped PDF streams into the temporary file, never into memory.
        with atomic_open(target) as f:
            stamps = stamp_pdf(pristine, partial(stamp_line, cfg, number, case.applicant.name), cfg, f)
        entry["bytes"], entry["sha256"] = _digest(target)
        files.append(rel)
        total_pages += len(stamps)
        shrunk_pages += sum(s.shrunk for s in stamps)
        summaries.append(
            DocumentSummary(
                key=str(entry.get("document", "")),
                name_ja=str(entry.get("name_ja") or entry.get("title") or entry.get("document", "")),
                name_en=str(entry.get("name_en", "")),
                pages=len(stamps),
                file_name=PurePosixPath(rel).name,
            )
        )

    cover_entry = next((o for o in outputs if isinstance(o, dict) and o.get("document") == "cover-sheet"), None)
    if cover_entry is None:
        cover_entry = {"path": DEFAULT_COVER, "destination": "mail", "document": "cover-sheet", "title": "送付状"}
        outputs.insert(0, cover_entry)
    cover_rel = _relative(out_dir, cover_entry.get("path"), "path")
    cover = render_cover_sheet(
        case, summaries, number, filing_date, on_date or dt.date.today(), texts_dir=texts_dir
    )
    atomic_write_bytes(out_dir / cover_rel, cover)
    cover_entry["bytes"] = len(cover)
    cover_entry["sha256"] = hashlib.sha256(cover).hexdigest()

    manifest["stamp"] = {
        "receipt": number,
        "filing_date": filing_date.isoformat() if filing_date else None,
        "stamped_at_pages": total_pages,
        "shrunk_pages": shrunk_pages,
        "files": files,
    }
    atomic_write_text(manifest_path, json.dumps(manifest, ensure_ascii=False, indent=2) + "\n")
    return StampResult(
        receipt=number,
        filing_date=filing_date,
        cover_sheet=cover_rel,
        files=tuple(files),
        pages=total_pages,
        shrunk_pages=shrunk_pages,
    )


def stamp_line(cfg: StampTexts, receipt: str, name: str, page: int, pages: int) -> str:
    """The line printed on page `page` (1-based) of `pages`."""
    return cfg.template.format(receipt=receipt, name=name, page=page, pages=pages)


def _is_mailed_document(entry: Any) -> bool:
    return isinstance(entry, dict) and entry.get("destination") == "mail" and entry.get("document") != "cover-sheet"


def case_from_manifest(data: Any) -> CaseInfo:
    """The CaseInfo fields the forms print, from the manifest's "case" object."""
    if not isinstance(data, dict):
        return CaseInfo()
    applicant = data.get("applicant") if isinstance(data.get("applicant"), dict) else {}

    def text(d: dict[str, Any], key: str) -> str:
        value = d.get(key)
        return "" if value is None else str(value)

    return CaseInfo(
        application=text(data, "application"),
        status=text(data, "status"),
        current_status=text(data, "current_status"),
        applicant=Applicant(
            name=text(applicant, "name"),
            nationality=text(applicant, "nationality"),
            birth_date=text(applicant, "birth_date"),
            residence_card_number=text(applicant, "residence_card_number"),
        ),
        bureau=text(data, "bureau"),
        sender=text(data, "sender"),
    )


def _read_manifest(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as e:
        raise StampError(f"{path.parent}: no {MANIFEST}: stamp a folder written by `packager build`") from e
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise StampError(f"{path}: cannot be read ({e}): rebuild OUT with `packager build`") from e
    if not isinstance(data, dict):
        raise StampError(f"{path}: is not a packager manifest: rebuild OUT with `packager build`")
    return data


def _relative(out_dir: Path, value: Any, key: str) -> str:
    """A manifest path, refused unless it stays inside OUT (the manifest is a user-editable file)."""
    if not isinstance(value, str) or not value:
        raise StampError(f"{out_dir / MANIFEST}: an output has no {key!r}: rebuild OUT")
    rel = PurePosixPath(value)
    if rel.is_absolute() or ".." in rel.parts:
        raise StampError(f"{out_dir / MANIFEST}: output {key} {value!r} points outside OUT")
    return rel.as_posix()


# ---------------------------------------------------------------------------- one PDF


def band_is_clear(gray: np.ndarray, dpi: float, cfg: StampTexts) -> bool:
    """True when the stamp band of a rendered page (uint8 grey, 255 = paper) holds no ink."""
    px = dpi / 25.4
    top, bottom = round(cfg.edge_mm * px), round(cfg.band_mm * px)
    side = round(cfg.side_mm * px)
    band = gray[top:bottom, side : gray.shape[1] - side]
    if band.size == 0:
        return False
    dark = int(np.count_nonzero(band < cfg.ink_level))
    return dark <= cfg.max_ink_fraction * band.size


def _visible_size(page: pikepdf.Page) -> tuple[float, float]:
    box = page.cropbox
    width, height = float(box[2]) - float(box[0]), float(box[3]) - float(box[1])
    rotate = int(page.obj.get("/Rotate", 0)) % 360
    return (height, width) if rotate in (90, 270) else (width, height)


def _stamp_layer(sizes: Sequence[tuple[float, float]], lines: Sequence[str], cfg: StampTexts) -> bytes:
    """One page per source page, each holding only its stamp line, centred in the band."""
    buf = io.BytesIO()
    canvas = Canvas(buf, invariant=1, initialFontName=GOTHIC, pageCompression=1)
    for (width, height), line in zip(sizes, lines, strict=True):
        canvas.setPageSize((width, height))
        available = width - 2 * cfg.side_mm * MM
        size = cfg.font_size_pt
        text_width = pdfmetrics.stringWidth(line, GOTHIC, size)
        if text_width > available:
            size = max(cfg.min_font_size_pt, size * available / text_width)
        band_middle = height - (cfg.edge_mm + cfg.band_mm) / 2 * MM
        canvas.setFont(GOTHIC, size)
        canvas.drawCentredString(width / 2, band_middle - size * 0.35, line)
        canvas.showPage()
    canvas.save()
    return buf.getvalue()


def stamp_pdf(
    pristine: Path, line_for: Callable[[int, int], str], cfg: StampTexts, dest: BinaryIO
) -> list[PageStamp]:
    """Write `pristine` stamped to `dest`; `line_for(page_number, page_count)` gives each line."""
    try:
        pdf = pikepdf.open(pristine)
    except (pikepdf.PdfError, OSError) as e:
        raise StampError(f"{pristine}: cannot be opened ({e}): rebuild OUT") from e
    with pdf:
        count = len(pdf.pages)
        clear = _clear_bands(pristine, count, cfg)
        sizes = [_visible_size(p) for p in pdf.pages]
        lines = [line_for(i + 1, count) for i in range(count)]
        for line in lines:
            missing = missing_glyphs(line, GOTHIC)
            if missing:
                raise StampError(f"the stamp line {line!r} holds characters the embedded font cannot print ({missing})")
        layer = pikepdf.open(io.BytesIO(_stamp_layer(sizes, lines, cfg)))
        stamps: list[PageStamp] = []
        for i in range(count):
            width, height = sizes[i]
            stamp_form = pdf.copy_foreign(layer.pages[i].as_form_xobject())
            if clear[i]:
                page = pdf.pages[i]
                _overlay(page, stamp_form, pikepdf.Rectangle(*[float(v) for v in page.cropbox]), "PkgStamp")
                stamps.append(PageStamp(i, shrunk=False, scale=1.0))
                continue
            scale = (height - cfg.band_mm * MM) / height
            content = pdf.pages[i].as_form_xobject()
            fresh = pikepdf.Page(
                pdf.make_indirect(
                    pikepdf.Dictionary(
                        Type=pikepdf.Name.Page,
                        MediaBox=[0, 0, width, height],
                        Resources=pikepdf.Dictionary(),
                        Contents=pdf.make_stream(b""),
                    )
                )
            )
            x0 = width * (1 - scale) / 2
            _overlay(fresh, content, pikepdf.Rectangle(x0, 0, x0 + width * scale, height * scale), "PkgPage")
            _overlay(fresh, stamp_form, pikepdf.Rectangle(0, 0, width, height), "PkgStamp")
            pdf.pages.insert(i, fresh)
            del pdf.pages[i + 1]
            stamps.append(PageStamp(i, shrunk=True, scale=scale))
        pdf.save(dest, deterministic_id=True, compress_streams=True)
        layer.close()
    return stamps


def _digest(path: Path) -> tuple[int, str]:
    h = hashlib.sha256()
    size = 0
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
            size += len(chunk)
    return size, h.hexdigest()


def _overlay(page: pikepdf.Page, formx: pikepdf.Object, rect: pikepdf.Rectangle, base: str) -> None:
    """Page.add_overlay with a fixed resource name: pikepdf's own names are random, and
    the same input must give the same bytes. Placement inverts /Rotate, so the form is
    upright as the page is displayed."""
    existing = page.resources.get(pikepdf.Name.XObject, pikepdf.Dictionary())
    name = pikepdf.Name("/" + base)
    suffix = 0
    while name in existing:
        suffix += 1
        name = pikepdf.Name(f"/{base}{suffix}")
    page.add_resource(formx, pikepdf.Name.XObject, name)
    placement = page.calc_form_xobject_placement(formx, name, rect, allow_shrink=True, allow_expand=True)
    page.contents_add(b"q\n", prepend=True)
    page.contents_add(b"Q\n")
    page.contents_add(placement)
    page.contents_coalesce()


def _clear_bands(path: Path, count: int, cfg: StampTexts) -> list[bool]:
    doc = pdfium.PdfDocument(str(path))
    try:
        if len(doc) != count:
            raise StampError(f"{path}: page count differs between readers ({len(doc)} vs {count}): rebuild OUT")
        result = []
        for i in range(count):
            page = doc[i]
            bitmap = page.render(scale=cfg.check_dpi / 72, grayscale=True, may_draw_forms=True)
            gray = np.asarray(bitmap.to_pil().convert("L"))
            result.append(band_is_clear(gray, cfg.check_dpi, cfg))
            page.close()
        return result
    finally:
        doc.close()


def copy_pristine(out_dir: Path, mailed_rel: str) -> str:
    """Keep an untouched copy of a mailed file for stamping (for the build); returns its path."""
    rel = f"{PRISTINE_DIR}/{PurePosixPath(mailed_rel).name}"
    dest = out_dir / rel
    dest.parent.mkdir(parents=True, exist_ok=True)
    with (out_dir / mailed_rel).open("rb") as src, atomic_open(dest) as f:
        shutil.copyfileobj(src, f, 1 << 20)
    return rel


__all__ = [
    "PageStamp",
    "StampResult",
    "band_is_clear",
    "case_from_manifest",
    "copy_pristine",
    "stamp_case",
    "stamp_line",
    "stamp_pdf",
]

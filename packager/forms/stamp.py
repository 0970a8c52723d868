"""Stamping one PDF: the receipt number in the top margin of every page.

After online filing the ISA issues an application receipt number (申請受付番号); the
documents mailed afterwards must show it. packager.outbox.stamp (`packager stamp`, the
watcher's receipts, the desk) regenerates the cover sheet with the number and calls this
module for every mailed document, which prints in the top margin of every page

    申請受付番号 Receipt No. NUMBER — NAME — page i / n

Rules:
- Always from the pristine copy (OUT/.packager/pristine/…), never onto a stamped file:
  stamping again with a corrected number leaves only the new number.
- Never over content: the band the stamp goes in is rendered (pypdfium2, low dpi) and
  must be white; when it is not, the page is shrunk about its horizontal centre below
  the band (placed as a form XObject) so the stamp has clear paper.
- Deterministic: fixed resource names and PDF ID, so the same input gives the same bytes.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pikepdf
import pypdfium2 as pdfium
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfgen.canvas import Canvas

from packager.errors import StampError
from packager.forms.fonts import GOTHIC, missing_glyphs, register_fonts
from packager.forms.receipt import validate_receipt
from packager.forms.texts import StampTexts

MM = 72 / 25.4


@dataclass(frozen=True)
class PageStamp:
    """How one page was stamped."""

    page_index: int  # 0-based
    shrunk: bool  # the band held content, so the page was scaled below it
    scale: float  # 1.0 unless shrunk


def check_receipt(receipt: str) -> str:
    """The receipt number to print (validated, whitespace stripped), else StampError; also
    refused when the embedded font cannot print one of its characters."""
    number = validate_receipt(receipt)
    register_fonts()
    missing = missing_glyphs(number, GOTHIC)
    if missing:
        raise StampError(
            f"the receipt number holds characters the embedded font cannot print ({missing}): check --receipt"
        )
    return number


def stamp_line(cfg: StampTexts, receipt: str, name: str, page: int, pages: int) -> str:
    """The line printed on page `page` (1-based) of `pages`."""
    return cfg.template.format(receipt=receipt, name=name, page=page, pages=pages)


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


__all__ = ["PageStamp", "band_is_clear", "check_receipt", "stamp_line", "stamp_pdf"]

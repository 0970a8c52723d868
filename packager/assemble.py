"""Assemble: one PDF per document from the spooled one-page PDFs, and the ID photo.

Output is plain ISO 32000-1 without encryption or restrictions (the ISA silently turns
a restricted PDF into an error file), with the document's name as its title and with
no dates or random IDs, so the same input always gives the same bytes.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO

import pikepdf
from PIL import Image

from packager import __version__
from packager.model import SourcePage
from packager.pages import load_page

PRODUCER = f"packager {__version__}"


def assemble_pdf(page_pdfs: Sequence[Path | bytes], title: str, out: BinaryIO, identity: bytes) -> int:
    """Concatenate one-page PDFs into `out`; returns the page count.

    `identity` says what the document is made of (write.py: its title, its pages' sources,
    encodings and sizes): the file's permanent /ID is its digest. qpdf's deterministic /ID would be an
    MD5 of the whole output instead — half of the save's CPU (~35 ms for a 24 MB upload, and
    a mailed 60-page statement is 150 MB) — for the same property: the same document, the same
    bytes; another document, another /ID. The second, changing /ID is qpdf's fixed one."""
    pdf = pikepdf.new()
    sources: list[pikepdf.Pdf] = []
    try:
        for item in page_pdfs:
            src = pikepdf.open(io.BytesIO(item) if isinstance(item, bytes) else item)
            sources.append(src)
            pdf.pages.extend(src.pages)
        _clean_page_extras(pdf)
        if "/Metadata" in pdf.Root:
            del pdf.Root.Metadata
        pdf.docinfo = pdf.make_indirect(pikepdf.Dictionary(
            Title=pikepdf.String(title), Producer=pikepdf.String(PRODUCER), Creator=pikepdf.String(PRODUCER)
        ))
        # The viewer shows the title rather than the file name (PDF/UA habit; harmless).
        pdf.Root.ViewerPreferences = pikepdf.Dictionary(DisplayDocTitle=True)
        permanent = pikepdf.String(hashlib.md5(identity, usedforsecurity=False).digest())
        pdf.trailer.ID = pikepdf.Array([permanent, permanent])  # qpdf keeps the first (PDF 32000-1 §14.4)
        pdf.save(out, static_id=True, compress_streams=True, encryption=False, fix_metadata_version=False)
        return len(pdf.pages)
    finally:
        for src in sources:
            src.close()
        pdf.close()


def _clean_page_extras(pdf: pikepdf.Pdf) -> None:
    """Drop what makes a page act differently from paper: JavaScript actions, forms' AA."""
    for page in pdf.pages:
        for key in ("/AA", "/Thumb"):
            if key in page.obj:
                del page.obj[key]


def make_photo(page: SourcePage, width_px: int, height_px: int, quality: int) -> bytes:
    """The ID photo as a 3:4 portrait JPEG no larger than needed, with no EXIF (no GPS)."""
    # Decode no more than the crop needs (libjpeg's scaled decode): a 1200×1600 photo is
    # decoded at 600×800 directly. Rounding may leave it a pixel short: resized below.
    scale = max(width_px / page.width_px, height_px / page.height_px)
    image = load_page(page, max_dpi=page.native_dpi * min(1.0, scale)).image.convert("RGB")
    target_ratio = width_px / height_px
    w, h = image.size
    if w / h > target_ratio:  # too wide: crop the sides, centred
        new_w = round(h * target_ratio)
        left = (w - new_w) // 2
        image = image.crop((left, 0, left + new_w, h))
    elif w / h < target_ratio:  # too tall: crop top and bottom, keeping a little more headroom
        new_h = round(w / target_ratio)
        top = (h - new_h) // 3
        image = image.crop((0, top, w, top + new_h))
    if image.width >= width_px - 2:  # never enlarge a small photo, but do round up a pixel
        image = image.resize((width_px, height_px), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=quality, optimize=True, dpi=(300, 300))
    return buf.getvalue()

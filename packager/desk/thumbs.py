"""Page thumbnails, rendered once and cached in the case's `.packager/thumbs/`.

Upload pages are rendered with pypdfium2 from the built PDF (or Pillow for the photo); a
dropped blank page from the case's original file, so a person can see that nothing with
content was dropped. The cache name carries the file's sha256 from the manifest, so a
rebuild never shows a stale picture. A cached thumbnail is read in the request's thread; a
missing one is rendered by the one render thread (see `_renderer`).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import warnings
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pypdfium2 as pdfium
from PIL import Image, ImageOps

from packager.atomic import atomic_write_bytes
from packager.desk.files import open_below
from packager.heif import register_heif
from packager.outputs import STATE

THUMB_WIDTH_PX = 240  # shown 120 CSS px wide: sharp on a 2× screen
THUMB_QUALITY = 82
CACHE_DIR = f"{STATE}/thumbs"  # inside OUT's own state folder (packager.outputs owns its name)
# pdfium is not thread-safe, and each thread that decodes full-page scans keeps freed memory in
# its own malloc arena: rendering in turn on the server's pool threads (under a lock) took the
# desk to 240 MB on the heavy bundle. One thread renders everything.
_renderer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="desk-thumbs")

def _jpeg(image: Image.Image) -> bytes:
    if image.mode not in ("RGB", "L"):
        image = image.convert("RGB")
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=THUMB_QUALITY, optimize=False)
    return buf.getvalue()


def _render_pdf(data: io.BufferedReader, pages: list[int]) -> dict[int, bytes]:
    doc = pdfium.PdfDocument(data)
    try:
        out: dict[int, bytes] = {}
        for i in pages:
            if not 0 <= i < len(doc):
                continue
            page = doc[i]
            try:
                width, _ = page.get_size()  # points, rotation applied
                bitmap = page.render(scale=THUMB_WIDTH_PX / max(width, 1.0), may_draw_forms=True)
                out[i] = _jpeg(bitmap.to_pil())
            finally:
                page.close()
        return out
    finally:
        doc.close()


def _render_image(data: io.BufferedReader, page: int) -> bytes | None:
    register_heif()  # a phone's HEIC photo among the inputs (registered only where needed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        with Image.open(data) as im:
            if page:
                im.seek(page)
            im.draft("RGB", (THUMB_WIDTH_PX * 2, THUMB_WIDTH_PX * 3))  # JPEG: libjpeg's scaled decode
            upright = ImageOps.exif_transpose(im)
            upright.thumbnail((THUMB_WIDTH_PX, THUMB_WIDTH_PX * 2))
            return _jpeg(upright)


def page_count(case_dir: Path, rel: str) -> int:
    """Pages of a PDF the manifest lists without page records (the declaration, the cover sheet)."""
    try:
        fd = open_below(case_dir, rel)
    except FileNotFoundError:
        return 0
    return _renderer.submit(_page_count, fd).result()


def _page_count(fd: int) -> int:
    with os.fdopen(fd, "rb") as f:
        if f.read(5) != b"%PDF-":
            return 1
        f.seek(0)
        try:
            doc = pdfium.PdfDocument(f)
        except pdfium.PdfiumError:
            return 0
        try:
            return len(doc)
        finally:
            doc.close()


def _cache_name(digest_source: str, page: int) -> str:
    return f"{hashlib.sha256(digest_source.encode()).hexdigest()[:24]}-{page}.jpg"


def _cached(case_dir: Path, name: str) -> bytes | None:
    try:
        fd = open_below(case_dir, f"{CACHE_DIR}/{name}")
    except FileNotFoundError:
        return None
    with os.fdopen(fd, "rb") as f:
        return f.read()


def _store(case_dir: Path, name: str, data: bytes) -> None:
    # A read-only OUTBOX still shows thumbnails, rendered each time.
    with contextlib.suppress(OSError):
        cache = case_dir / CACHE_DIR
        if not cache.is_symlink() and not (case_dir / STATE).is_symlink():
            atomic_write_bytes(cache / name, data)


def thumbnail(case_dir: Path, rel: str, key: str, page: int, batch: Sequence[int] = ()) -> bytes | None:
    """JPEG thumbnail of page `page` (0-based) of `case_dir/rel`; `key` names its content (a sha256).

    The pages of `batch` (a PDF's other pages) are rendered with it, since the browser asks for
    the rest of the document at once. None when the file cannot be rendered.
    """
    found = _cached(case_dir, _cache_name(f"{key}\0{rel}", page))
    if found is not None:
        return found
    return _renderer.submit(_render_and_store, case_dir, rel, key, page, tuple(batch)).result()


def _render_and_store(case_dir: Path, rel: str, key: str, page: int, batch: tuple[int, ...]) -> bytes | None:
    found = _cached(case_dir, _cache_name(f"{key}\0{rel}", page))  # rendered while this request waited
    if found is not None:
        return found
    try:
        fd = open_below(case_dir, rel)
    except FileNotFoundError:
        return None
    with os.fdopen(fd, "rb") as f:
        head = f.read(5)
        f.seek(0)
        try:
            if head == b"%PDF-":
                wanted = [p for p in batch if _cached(case_dir, _cache_name(f"{key}\0{rel}", p)) is None]
                rendered = _render_pdf(f, sorted(set(wanted) | {page}))
            else:
                one = _render_image(f, page)
                rendered = {page: one} if one is not None else {}
        except (pdfium.PdfiumError, OSError, ValueError, EOFError, Image.DecompressionBombError):
            return None
    for p, data in rendered.items():
        _store(case_dir, _cache_name(f"{key}\0{rel}", p), data)
    return rendered.get(page)

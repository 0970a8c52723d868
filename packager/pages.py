"""Pages: describe every page of an input without its pixels, and load one page's pixels.

Pixels are loaded one page at a time, at no more resolution than the encoder needs
(libjpeg's scaled decode via Pillow's draft(), PDFium rendering at the target dpi), so
memory does not grow with the size of the case.
"""

from __future__ import annotations

import contextlib
import functools
import io
import math
import os
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pikepdf
from PIL import Image

from packager import jpeg_planes
from packager.decoder_messages import refused_on_damage
from packager.heif import register_heif
from packager.model import InputFile, SourcePage
from packager.profiles import SystemProfile

A4_IN = (8.27, 11.69)
PDF_RENDER_MAX_PIXELS = 120_000_000  # ~ A0 at 200 dpi; memory stays under ~400 MB per page
# EXIF orientation → the transposition that makes the image upright (EXIF 2.32 §4.6.4).
_EXIF_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
# The EXIF orientations that are turns, not mirrors: the clockwise turn that shows them upright
# (what a PDF page's /Rotate says).
_EXIF_CLOCKWISE = {3: 180, 6: 90, 8: 270}


def exif_orientation(im: Image.Image) -> int:
    """The EXIF orientation, or 1 when missing or invalid (values outside 1–8 occur)."""
    try:
        if im.format == "PNG":
            # Pillow's PNG getexif() decodes the whole image to look for an eXIf chunk after
            # the pixels; scanners write it before them, if at all. Read only what is there.
            raw = im.info.get("exif")
            if not raw:
                return 1
            exif = Image.Exif()
            exif.load(raw)
            value = exif.get(0x0112, 1)
        else:
            value = im.getexif().get(0x0112, 1)
    except Exception:  # a broken EXIF block must not lose the page
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def fit_a4_dpi(width_px: int, height_px: int) -> float:
    """The dpi at which the image just fits an A4 sheet in its own orientation."""
    short_in, long_in = A4_IN
    w_in, h_in = (short_in, long_in) if height_px >= width_px else (long_in, short_in)
    return max(width_px / w_in, height_px / h_in)


def raster_dpi(
    declared: tuple[float, float] | None, width_px: int, height_px: int, system: SystemProfile
) -> tuple[float, bool]:
    """(dpi, estimated?) for a raster file. Tags of 72/96 on phone photos lie (DESIGN §4)."""
    low, high = system.plausible_dpi
    if declared:
        dx, dy = (float(declared[0] or 0), float(declared[1] or 0))
        dpi = min(dx, dy) if dx and dy else (dx or dy)
        if low <= dpi <= high:
            return dpi, False
    return fit_a4_dpi(width_px, height_px), True


def _describe_raster(inp: InputFile, system: SystemProfile) -> Iterator[SourcePage]:
    if inp.format == "heif":
        register_heif()
    with Image.open(inp.abs_path) as im:
        for i in range(inp.page_count):
            if inp.page_count > 1:
                im.seek(i)
            w, h = im.size
            if exif_orientation(im) in (5, 6, 7, 8):
                w, h = h, w
            dpi, estimated = raster_dpi(im.info.get("dpi"), w, h, system)
            yield SourcePage(
                input=inp,
                page_index=i,
                width_px=w,
                height_px=h,
                width_in=w / dpi,
                height_in=h / dpi,
                native_dpi=dpi,
                dpi_estimated=estimated,
            )


def _page_box_in(page: pikepdf.Page) -> tuple[float, float]:
    box = page.cropbox if "/CropBox" in page.obj else page.mediabox
    unit = float(page.obj.get("/UserUnit", 1))
    w = abs(float(box[2]) - float(box[0])) * unit / 72
    h = abs(float(box[3]) - float(box[1])) * unit / 72
    if int(page.obj.get("/Rotate", 0)) % 180:
        w, h = h, w
    return w, h


def _describe_pdf(inp: InputFile) -> Iterator[SourcePage]:
    with pikepdf.open(inp.abs_path) as pdf:
        for i, page in enumerate(pdf.pages):
            w_in, h_in = _page_box_in(page)
            best = 0
            stored = _stream_length(page.obj.get("/Contents"))
            for _name, raw in _page_images(page):
                best = max(best, int(raw.get("/Width", 0)) * int(raw.get("/Height", 0)))
                stored += _stream_length(raw)
            yield replace(_pdf_page(inp, i, w_in, h_in, best, _has_text(page)), stream_bytes=stored)


def _stream_length(obj: object) -> int:
    """A stream's stored (compressed) length from its dictionary, without reading it; the sum
    for an array of content streams; 0 for anything else."""
    try:
        if isinstance(obj, pikepdf.Array):
            return sum(_stream_length(o) for o in obj)
        if isinstance(obj, pikepdf.Stream):
            return int(obj.get("/Length", 0))
    except (pikepdf.PdfError, TypeError, ValueError):
        pass
    return 0


def _pdf_page(inp: InputFile, page_index: int, w_in: float, h_in: float, largest_image_px: int,
              has_text: bool) -> SourcePage:
    """A PDF page as described by either reader (pikepdf or PDFium): its native dpi is the
    largest image's resolution, as if that image covered the page (scans do); 0 without one."""
    measurable = largest_image_px > 0 and w_in > 0 and h_in > 0
    dpi = math.sqrt(largest_image_px * (w_in / h_in)) / w_in if measurable else 0.0
    return SourcePage(
        input=inp,
        page_index=page_index,
        width_px=round(w_in * (dpi or 300)),
        height_px=round(h_in * (dpi or 300)),
        width_in=w_in,
        height_in=h_in,
        native_dpi=dpi,
        dpi_estimated=False,
        has_text_layer=has_text,
    )


def _page_images(page: pikepdf.Page) -> Iterator[tuple[str, pikepdf.Object]]:
    try:
        resources = page.obj.get("/Resources", {})
        xobjects = resources.get("/XObject", {})
        for name, obj in xobjects.items():
            if obj.get("/Subtype") == "/Image":
                yield name, obj
            elif obj.get("/Subtype") == "/Form":
                inner = obj.get("/Resources", {}).get("/XObject", {})
                for n2, o2 in inner.items():
                    if o2.get("/Subtype") == "/Image":
                        yield n2, o2
    except (AttributeError, pikepdf.PdfError, TypeError):
        return


def _has_text(page: pikepdf.Page) -> bool:
    try:
        fonts = page.obj.get("/Resources", {}).get("/Font", {})
        return len(fonts) > 0
    except (AttributeError, pikepdf.PdfError, TypeError):
        return False


def _describe_pdf_pdfium(inp: InputFile) -> Iterator[SourcePage]:
    """Pages of a PDF whose page tree only PDFium reads (intake chose it: it sees more pages)."""
    import pypdfium2 as pdfium
    import pypdfium2.raw as pdfium_c

    doc = pdfium.PdfDocument(inp.abs_path)
    try:
        index = 0
        for i in range(len(doc)):
            try:
                page = doc[i]
            except Exception:  # overstated /Count: intake counted only the pages that load
                continue
            try:
                w_pt, h_pt = page.get_size()  # of the crop box, rotation applied
                w_in, h_in = abs(w_pt) / 72, abs(h_pt) / 72
                best = 0
                for obj in page.get_objects(filter=(pdfium_c.FPDF_PAGEOBJ_IMAGE,), max_depth=2):
                    try:
                        pw, ph = obj.get_px_size()
                    except Exception:
                        continue
                    best = max(best, int(pw) * int(ph))
                has_text = any(True for _ in page.get_objects(filter=(pdfium_c.FPDF_PAGEOBJ_TEXT,), max_depth=2))
            finally:
                page.close()
            yield _pdf_page(inp, i, w_in, h_in, best, has_text)
            index += 1
            if index >= inp.page_count:
                break
    finally:
        doc.close()


def describe_pages(inp: InputFile, system: SystemProfile) -> list[SourcePage]:
    """Every page of one input, in order, with its size and effective dpi."""
    if inp.format == "pdf":
        if inp.pdf_reader == "pdfium":
            return list(_describe_pdf_pdfium(inp))
        return list(_describe_pdf(inp))
    return list(_describe_raster(inp, system))


# ---------------------------------------------------------------------------- pixels


@dataclass(frozen=True)
class LoadedPage:
    image: Image.Image  # mode "RGB" or "L", upright, no alpha
    dpi: float  # effective dpi of this image on the page
    # A colour JPEG decoded as its planes (load_page(..., planes=True), jpeg_planes.py): `image` is
    # its luma (mode L). Where its chroma is quiet (Planes.chroma_quiet) that classifies it as its
    # RGB would; elsewhere (colour_pending) the classifier reads a thumbnail made from the planes
    # and the RGB is made only for what needs it (rgb, in_colour): an MRC rung reads the planes.
    planes: jpeg_planes.Planes | None = None
    # Clockwise degrees a viewer turns `image` to show it upright: set only by
    # load_page(..., rotate_later=True) for an EXIF rotation the PDF can carry as /Rotate.
    rotate: int = 0

    @property
    def colour_pending(self) -> bool:
        """Whether the page has colour its `image` (the luma) does not show yet."""
        return self.planes is not None and self.image.mode == "L" and not self.planes.quiet

    @functools.cached_property
    def rgb(self) -> Image.Image:
        """The page's RGB: `image`, or made from its planes once (to_rgb, ~8.5 ms on an A4 page)."""
        return jpeg_planes.to_rgb(self.planes) if self.planes is not None and self.image.mode == "L" else self.image

    def in_colour(self) -> LoadedPage:
        """The page with its colour (the RGB of a luma image decoded as planes, else the page); a
        page whose chroma is not quiet keeps its planes beside the RGB (mrc.segment reads them)."""
        if self.planes is None or self.image.mode == "RGB":
            return self
        return replace(self, image=self.rgb, planes=None if self.planes.quiet else self.planes)

    def in_grey(self) -> LoadedPage:
        """The page in grey, for text rungs: a page decoded as planes as its luma (the grey
        conversion of its RGB gives the same to ±1 level, 4.6 ms later on an A4 page), an RGB page
        converted once (every grey rung would convert it again)."""
        if self.colour_pending:  # the luma alone: its colour is not wanted (nor made on demand)
            return replace(self, planes=None)
        if self.image.mode == "L":
            return self
        if self.planes is not None:
            return replace(self, image=self.planes.luma, planes=None)
        return replace(self, image=self.image.convert("L"))


def _to_rgb_or_l(im: Image.Image) -> Image.Image:
    """Flatten alpha onto white, convert CMYK/palette/16-bit to 8-bit RGB or L."""
    if im.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        arr = np.asarray(im, dtype=np.uint32)
        peak = 65535 if im.mode.startswith("I;16") or arr.max() > 255 else 255
        return Image.fromarray((arr * 255 // max(peak, 1)).astype(np.uint8), "L")
    if im.mode == "F":
        arr = np.asarray(im, dtype=np.float32)
        return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "L")
    if im.mode == "1":
        return im.convert("L")
    if im.mode == "P":
        im = im.convert("RGBA")
    if im.mode in ("LA", "La"):
        im = im.convert("RGBA")
    if im.mode in ("RGBA", "RGBa"):
        white = Image.new("RGB", im.size, (255, 255, 255))
        white.paste(im, mask=im.getchannel("A"))
        return white
    if im.mode in ("L", "RGB"):
        return im
    return im.convert("RGB")  # CMYK, YCbCr, LAB, HSV


def load_page(page: SourcePage, max_dpi: float, *, planes: bool = False, rotate_later: bool = False) -> LoadedPage:
    """The page's pixels, upright, at min(native, max_dpi) dpi or a little above. With `planes`, a
    colour JPEG that needs no rotation nor resize comes as its luma and chroma (LoadedPage.planes),
    where libturbojpeg is installed: for a caller that may need only the grey. With
    `rotate_later`, an image file turned by a quarter or half turn in its EXIF comes as stored,
    LoadedPage.rotate saying how it turns: for a caller that writes it into a PDF with /Rotate
    (turning a 12 MP phone photo costs ~35 ms, a third of its encode)."""
    if page.input.format == "pdf":
        return _render_pdf_page(page, max_dpi, planes)
    with warnings.catch_warnings():
        # Pixel bombs were refused at intake (the profile's max_pixels, under Pillow's own bomb
        # limit); a large legitimate scan need not warn.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        warnings.filterwarnings("ignore", category=UserWarning, module="PIL")  # "Corrupt EXIF data" …
        return _load_raster(page, max_dpi, planes, rotate_later)


def _load_raster(page: SourcePage, max_dpi: float, planes: bool = False, rotate_later: bool = False) -> LoadedPage:
    if page.input.format == "heif":
        register_heif()
    with Image.open(page.input.abs_path) as im:
        if page.input.page_count > 1:
            im.seek(page.page_index)
        orientation = exif_orientation(im)
        dpi = page.native_dpi
        if planes and orientation == 1 and im.format == "JPEG" and im.mode == "RGB":
            as_planes = _as_planes(page.input.abs_path.read_bytes(), im, dpi, max_dpi)
            if as_planes is not None:
                return as_planes
        _draft_for(im, dpi, max_dpi)
        # libtiff reports damage on stderr and goes on: refuse the page instead.
        with refused_on_damage() if im.format == "TIFF" else contextlib.nullcontext():
            im.load()
        image = _to_rgb_or_l(im)
        upright_w = image.height if orientation in (5, 6, 7, 8) else image.width
        dpi = dpi * upright_w / page.width_px
        if dpi > max_dpi:  # shrink before rotating: cheaper, and nothing above max_dpi is used
            image = resize_to_dpi(image, dpi, max_dpi)
            dpi = max_dpi
        if rotate_later and orientation in _EXIF_CLOCKWISE:
            return LoadedPage(image=image, dpi=dpi, rotate=_EXIF_CLOCKWISE[orientation])
        transpose = _EXIF_TRANSPOSE.get(orientation)
        if transpose is not None:
            image = image.transpose(transpose)
        return LoadedPage(image=image, dpi=dpi)


# /Rotate (clockwise, PDF 32000-1 §7.7.3.3) → the transposition that shows the page upright.
_PDF_ROTATE = {90: Image.Transpose.ROTATE_270, 180: Image.Transpose.ROTATE_180, 270: Image.Transpose.ROTATE_90}


# The PDFs a process has open, by (process, path, inode, size, mtime): a worker takes the pages
# of an input one after another, and each page reads its JPEG through its PDF (_full_page_jpeg)
# — the 61-page statement ~1 ms an open and page lookup. Only to read: a page copied out of an
# open PDF stays in qpdf's memory while the PDF is open (encode.original_page_pdf opens its own).
# The process id: a forked child never reads through its parent's open file (they would share
# one file offset); the file's identity: a file replaced under the same name is opened anew. A
# few at most (open files, parsed page trees).
_OPEN_PDFS: dict[tuple[int, str, int, int, int], pikepdf.Pdf] = {}
_OPEN_PDFS_MAX = 4


def open_pdf(path: Path) -> pikepdf.Pdf:
    """The PDF at `path`, opened once per process (see _OPEN_PDFS); to read, never to change."""
    st = os.stat(path)
    key = (os.getpid(), str(path), st.st_ino, st.st_size, st.st_mtime_ns)
    pdf = _OPEN_PDFS.pop(key, None)
    if pdf is None:
        for other in [k for k in _OPEN_PDFS if k[0] != key[0] or k[1] == key[1]]:
            _forget(other)  # a parent's (never read here) or an older version of this file
        pdf = pikepdf.open(path)
    _OPEN_PDFS[key] = pdf  # last = most recently used
    while len(_OPEN_PDFS) > _OPEN_PDFS_MAX:
        _forget(next(iter(_OPEN_PDFS)))
    return pdf


def close_open_pdfs() -> None:
    """Close this process's open PDFs (the end of a build: nothing holds a case's files open)."""
    for key in list(_OPEN_PDFS):
        _forget(key)


def _forget(key: tuple[int, str, int, int, int]) -> None:
    pdf = _OPEN_PDFS.pop(key)
    if key[0] == os.getpid():
        pdf.close()
    # A parent's handle is only dropped: closing it here would close this process's copy of the
    # descriptor, harmless, but there is nothing to gain.


def _full_page_jpeg(page: SourcePage) -> tuple[bytes, int] | None:
    """The JPEG stream of a scan page that is one JPEG drawn over the whole page, or None.

    Most scanners and img2pdf write exactly this. Decoding it with libjpeg's scaled decode
    is several times faster than rendering the page, and gives the same pixels.
    Anything else (skewed matrices, masks, Decode arrays, CMYK, text) goes to PDFium.
    """
    try:
        p = open_pdf(page.input.abs_path).pages[page.page_index]
        ops = [
            op
            for op in pikepdf.parse_content_stream(p)
            if op.operator not in (pikepdf.Operator("q"), pikepdf.Operator("Q"))
        ]
        if len(ops) != 2 or str(ops[0].operator) != "cm" or str(ops[1].operator) != "Do":
            return None
        a, b, c, d, e, f = (float(v) for v in ops[0].operands)
        box = p.mediabox
        x0, y0, x1, y1 = (float(v) for v in box)
        w, h = x1 - x0, y1 - y0
        if abs(b) > 1e-6 or abs(c) > 1e-6 or abs(a - w) > w * 0.005 or abs(d - h) > h * 0.005:
            return None
        if abs(e - x0) > 1 or abs(f - y0) > 1 or ("/CropBox" in p.obj and list(p.obj.CropBox) != list(box)):
            return None
        image = p.obj.Resources.XObject[ops[1].operands[0]]
        filters = image.get("/Filter")
        filters = list(filters) if isinstance(filters, pikepdf.Array) else [filters]
        if filters != [pikepdf.Name.DCTDecode] or image.get("/ColorSpace") not in (
            pikepdf.Name.DeviceRGB,
            pikepdf.Name.DeviceGray,
        ):
            return None
        if any(k in image for k in ("/Decode", "/SMask", "/Mask", "/ImageMask")):
            return None
        return image.read_raw_bytes(), int(p.obj.get("/Rotate", 0)) % 360
    except Exception:  # anything odd about the page: PDFium renders it instead
        return None


def _draft_reduction(im: Image.Image, dpi: float, max_dpi: float) -> int:
    """The libjpeg scaled decode (1, 2, 4 or 8) that stays at or above max_dpi (free speed)."""
    if im.format != "JPEG" or dpi <= max_dpi:
        return 1
    factor = 1
    while factor * 2 <= dpi / max_dpi * 1.001 and factor < 8:  # 599.999… dpi is 600
        factor *= 2
    return factor


def _draft_for(im: Image.Image, dpi: float, max_dpi: float) -> None:
    """Ask libjpeg for a 1/2, 1/4 or 1/8 scale decode, never below max_dpi (free speed)."""
    factor = _draft_reduction(im, dpi, max_dpi)
    if factor > 1:
        im.draft(im.mode, (im.width // factor, im.height // factor))


def _as_planes(data: bytes, im: Image.Image, dpi: float, max_dpi: float) -> LoadedPage | None:
    """The upright colour JPEG `im` (its bytes `data`, at `dpi`) as planes, where that gives the
    pixels Pillow's decode would (the same scaled decode, no resize after it); else None."""
    reduce = _draft_reduction(im, dpi, max_dpi)
    scaled_dpi = dpi * -(-im.width // reduce) / im.width  # libjpeg rounds a scaled size up
    if scaled_dpi * 0.995 > max_dpi:  # Pillow's path would resize it (resize_to_dpi)
        return None
    decoded = jpeg_planes.decode(data, reduce)
    if decoded is None:
        return None
    return LoadedPage(image=decoded.luma, dpi=min(scaled_dpi, max_dpi), planes=decoded)


def _decode_full_page_jpeg(page: SourcePage, max_dpi: float, planes: bool = False) -> LoadedPage | None:
    found = _full_page_jpeg(page)
    if found is None:
        return None
    data, rotate = found
    im = Image.open(io.BytesIO(data))
    if im.format != "JPEG" or im.mode not in ("L", "RGB"):
        return None
    upright_w = im.height if rotate in (90, 270) else im.width
    dpi = upright_w / page.width_in
    if planes and rotate == 0 and im.mode == "RGB":
        as_planes = _as_planes(data, im, dpi, max_dpi)
        if as_planes is not None:
            return as_planes
    _draft_for(im, dpi, max_dpi)
    im.load()  # the JPEG bytes are in memory: no file stays open behind the image
    image: Image.Image = im
    dpi = dpi * (image.height if rotate in (90, 270) else image.width) / upright_w
    if dpi > max_dpi:
        image = resize_to_dpi(image, dpi, max_dpi)
        dpi = max_dpi
    if rotate in _PDF_ROTATE:
        image = image.transpose(_PDF_ROTATE[rotate])
    return LoadedPage(image=image, dpi=dpi)


def _render_pdf_page(page: SourcePage, max_dpi: float, planes: bool = False) -> LoadedPage:
    if page.input.pdf_reader == "pdfium":  # qpdf does not see this page: PDFium alone renders it
        return _render_with_pdfium(page, max_dpi)
    direct = _decode_full_page_jpeg(page, max_dpi, planes)
    if direct is not None:
        return direct
    return _render_with_pdfium(page, max_dpi)


def _render_with_pdfium(page: SourcePage, max_dpi: float) -> LoadedPage:
    import pypdfium2 as pdfium

    dpi = min(page.native_dpi, max_dpi) if page.native_dpi > 0 else max_dpi
    # A vector page with a poster-sized MediaBox would render to gigapixels: cap the raster.
    area = max(page.width_in * page.height_in, 1e-6)
    dpi = min(dpi, math.sqrt(PDF_RENDER_MAX_PIXELS / area))
    doc = pdfium.PdfDocument(page.input.abs_path)
    try:
        pdf_page = doc[page.page_index]
        try:
            bitmap = pdf_page.render(scale=dpi / 72, may_draw_forms=True, fill_color=(255, 255, 255, 255))
            image = bitmap.to_pil()
        finally:
            pdf_page.close()
    finally:
        doc.close()
    image = _to_rgb_or_l(image)
    return LoadedPage(image=image, dpi=dpi)


def resize_to_dpi(image: Image.Image, dpi_from: float, dpi_to: float) -> Image.Image:
    """Downsample to dpi_to (never upsample: the source's own resolution is the ceiling)."""
    if dpi_to >= dpi_from * 0.995:
        return image
    w = max(1, round(image.width * dpi_to / dpi_from))
    h = max(1, round(image.height * dpi_to / dpi_from))
    # Area averaging: no ringing around strokes, and 3–4× faster than Lanczos on a page.
    return image.resize((w, h), Image.Resampling.BOX, reducing_gap=1.0)


__all__ = [
    "LoadedPage",
    "close_open_pdfs",
    "describe_pages",
    "exif_orientation",
    "fit_a4_dpi",
    "load_page",
    "open_pdf",
    "resize_to_dpi",
]

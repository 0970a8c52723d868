"""Legibility and resolution measures (DESIGN §5): render, OCR, character error rate, SSIM, dpi.

A leaf: it imports only the standard library, numpy, Pillow, pypdfium2 and pikepdf, so the
benchmark and the tests can use it without pulling in any stage. It measures; it decides
nothing. OCR is tesseract's CLI (`-l jpn+eng`), run as a subprocess.
"""

from __future__ import annotations

import io
import math
import os
import re
import subprocess
import unicodedata
from pathlib import Path

import numpy as np
import pikepdf
import pypdfium2 as pdfium
from PIL import Image, ImageOps

from packager.heif import register_heif

__all__ = [
    "character_error_rate",
    "edit_distance",
    "effective_dpi_of_pdf",
    "normalise_text",
    "ocr_text",
    "page_image",
    "render_image_file",
    "render_pdf_page",
    "ssim",
]

# --psm 3 (automatic page segmentation), measured here (tesseract 5.3, jpn+eng) against ground
# truth: on the 10 text pages of the generated small case (certificates, tables, passport, phone
# photos of a residence card) mean CER 13.6% with psm 3, 33.4% with psm 6 (one uniform block runs
# table columns and side-by-side fields together) and 11.5% with psm 4 (one column); on the
# two-column corpus page a02_linn 1.0% with psm 3 but 38.4% with psm 4 and 39.1% with psm 6.
DEFAULT_PSM = 3

# --- rendering ----------------------------------------------------------------------------


def render_pdf_page(pdf: Path, page_index: int, dpi: float, grey: bool = True) -> Image.Image:
    """Render page `page_index` (0-based) of `pdf` at `dpi`, honouring /Rotate (pdfium)."""
    doc = pdfium.PdfDocument(str(pdf))
    try:
        page = doc[page_index]
        try:
            bitmap = page.render(scale=dpi / 72.0, grayscale=grey)
            image = bitmap.to_pil()
            # pdfium's bitmap memory is released with the page; keep an independent copy.
            image = image.convert("L") if grey else image.convert("RGB")
            image.info["dpi"] = (dpi, dpi)
            return image.copy()
        finally:
            page.close()
    finally:
        doc.close()


def page_image(pdf: Path, page_index: int, grey: bool = True) -> Image.Image | None:
    """The pixels of a page that is one axis-aligned image and nothing else (a scan), decoded from
    its stream as stored and turned by the page's /Rotate; None for any other page (render it).

    Why: pdfium resamples even at the image's own dpi (a 595.2 pt page at 300 dpi renders 2481 px
    wide for a 2480 px image, and its JPEG decode differs from libjpeg's), which blurs a page
    enough to move tesseract's CER by several points. A passed-through page must read exactly
    like its source, so measure the stored pixels.
    """
    with pikepdf.open(pdf) as doc:
        page = doc.pages[page_index]
        rotate = int(page.obj.get("/Rotate", 0)) % 360
        if rotate % 90:
            return None
        draws: list[tuple[list[float], str]] = []
        ctm_ops = 0
        for operands, operator in pikepdf.parse_content_stream(page.obj):
            op = str(operator)
            if op == "cm":
                ctm_ops += 1
                matrix = [float(v) for v in operands]
            elif op == "Do":
                draws.append((matrix if ctm_ops else [1, 0, 0, 1, 0, 0], str(operands[0])))
            elif op not in ("q", "Q"):
                return None  # text, vector drawing or an inline image: not a plain scan page
        if len(draws) != 1 or ctm_ops != 1:
            return None
        (a, b, c, d, _, _), name = draws[0]
        if b or c or a <= 0 or d <= 0:
            return None
        xobj = page.resources.get("/XObject", {}).get(name)
        if xobj is None or xobj.get("/Subtype") != "/Image" or "/SMask" in xobj or "/Mask" in xobj:
            return None
        try:
            image = pikepdf.PdfImage(xobj).as_pil_image()
        except Exception:  # JBIG2 without a decoder, unusual colour spaces: let pdfium render
            return None
        image = image.convert("L") if grey else image.convert("RGB")
        dpi = min(image.width / (a / 72.0), image.height / (d / 72.0))
        # /Rotate turns the page clockwise for display (EXIF-oriented photos passed through).
        turn = {90: Image.Transpose.ROTATE_270, 180: Image.Transpose.ROTATE_180, 270: Image.Transpose.ROTATE_90}
        if rotate:
            image = image.transpose(turn[rotate])
        image.info["dpi"] = (dpi, dpi)
        return image


def _image_dpi(image: Image.Image) -> float | None:
    dpi = image.info.get("dpi")
    if not dpi:
        return None
    try:
        value = float(min(dpi[0], dpi[1]))
    except (TypeError, ValueError, IndexError):
        return None
    return value if value >= 1 else None


def render_image_file(path: Path, page_index: int = 0, dpi: float | None = None, grey: bool = True) -> Image.Image:
    """Load frame `page_index` (0-based) of a raster file, upright per its EXIF orientation.

    With `dpi` None the pixels are returned at their native resolution. With a `dpi`, the image
    is resampled from its tagged resolution; a missing tag is taken as 300 dpi (this is a
    measuring tool, not packager's dpi estimate).
    """
    register_heif()
    with Image.open(path) as im:
        if page_index:
            im.seek(page_index)
        src_dpi = _image_dpi(im)
        try:
            upright = ImageOps.exif_transpose(im)
        except Exception:  # an invalid orientation value: keep the pixels as stored
            upright = im.copy()
        if upright is None:  # pragma: no cover - old Pillow in-place behaviour
            upright = im.copy()
        if upright.mode in ("RGBA", "LA", "PA") or (upright.mode == "P" and "transparency" in upright.info):
            rgba = upright.convert("RGBA")
            flat = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
            flat.alpha_composite(rgba)
            upright = flat.convert("RGB")
        if upright.mode == "I;16" or upright.mode.startswith("I"):
            upright = Image.fromarray((np.asarray(upright, dtype=np.float64) / 257.0).clip(0, 255).astype(np.uint8))
        image = upright.convert("L") if grey else upright.convert("RGB")
    native = src_dpi or 300.0
    if dpi is not None and abs(dpi - native) > 0.5:
        scale = dpi / native
        size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
        image = image.resize(size, Image.Resampling.LANCZOS)
        native = dpi
    image.info["dpi"] = (native, native)
    return image


# --- OCR ----------------------------------------------------------------------------------


def ocr_text(image: Image.Image, lang: str = "jpn+eng", psm: int = DEFAULT_PSM, timeout_s: float = 300) -> str:
    """Tesseract's reading of `image` (PNG through stdin). One OpenMP thread per call, so
    callers parallelise over pages with processes instead of oversubscribing the cores."""
    buf = io.BytesIO()
    dpi = _image_dpi(image) or 300.0
    image.save(buf, format="PNG", dpi=(dpi, dpi), compress_level=1)
    env = dict(os.environ, OMP_THREAD_LIMIT="1")
    proc = subprocess.run(
        ["tesseract", "stdin", "stdout", "-l", lang, "--psm", str(psm), "--dpi", str(round(dpi))],
        input=buf.getvalue(),
        capture_output=True,
        env=env,
        timeout=timeout_s,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"tesseract failed ({proc.returncode}): {proc.stderr.decode(errors='replace').strip()}")
    return proc.stdout.decode("utf-8", errors="replace")


# --- character error rate -----------------------------------------------------------------

_WHITESPACE = re.compile(r"\s+")


def normalise_text(text: str) -> str:
    """NFKC, then every whitespace removed: tesseract spaces Japanese arbitrarily."""
    return _WHITESPACE.sub("", unicodedata.normalize("NFKC", text))


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance (unit insert/delete/substitute) between two strings.

    Hyyrö's bit-parallel form of Myers' algorithm with Python's arbitrary-size integers: one
    pass over `b` of a few big-integer operations, each over len(a) bits. A 3,000-character
    page against its OCR takes a few milliseconds, so no extra dependency is needed.
    """
    if len(a) < len(b):
        a, b = b, a  # the longer string is the bit pattern: fewer loop iterations
    m = len(a)
    if m == 0:
        return len(b)
    if not b:
        return m
    peq: dict[str, int] = {}
    for i, ch in enumerate(a):
        peq[ch] = peq.get(ch, 0) | (1 << i)
    mask = (1 << m) - 1
    last = 1 << (m - 1)
    pv, mv, score = mask, 0, m
    for ch in b:
        eq = peq.get(ch, 0)
        xv = eq | mv
        xh = ((((eq & pv) + pv) & mask) ^ pv) | eq
        ph = mv | (~(xh | pv) & mask)
        mh = pv & xh
        if ph & last:
            score += 1
        elif mh & last:
            score -= 1
        ph = ((ph << 1) | 1) & mask
        mh = (mh << 1) & mask
        pv = mh | (~(xv | ph) & mask)
        mv = ph & xv
    return score


def character_error_rate(reference: str, hypothesis: str) -> float:
    """Edit distance ÷ reference length, after `normalise_text` on both.

    An empty reference gives 0.0 when the hypothesis is empty too, else 1.0 (anything read
    on a page that holds no text is all error, but never more than a full page's worth).
    """
    ref = normalise_text(reference)
    hyp = normalise_text(hypothesis)
    if not ref:
        return 0.0 if not hyp else 1.0
    return edit_distance(ref, hyp) / len(ref)


# --- SSIM ---------------------------------------------------------------------------------


def _gaussian_kernel(sigma: float = 1.5, radius: int = 5) -> np.ndarray:
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    k = np.exp(-(x * x) / (2 * sigma * sigma))
    return k / k.sum()


def _filter_valid(a: np.ndarray, k: np.ndarray) -> np.ndarray:
    """Separable 2-D correlation with kernel `k`, 'valid' region only (no padding bias)."""
    n = len(k)
    h, w = a.shape
    rows = np.zeros((h, w - n + 1), dtype=np.float64)
    for i, kv in enumerate(k):
        rows += kv * a[:, i : i + w - n + 1]
    out = np.zeros((h - n + 1, w - n + 1), dtype=np.float64)
    for i, kv in enumerate(k):
        out += kv * rows[i : i + h - n + 1, :]
    return out


def ssim(a: Image.Image, b: Image.Image) -> float:
    """Mean SSIM (Wang et al. 2004: Gaussian window σ=1.5, 11×11, K1=0.01, K2=0.03, L=255)
    of two images in greyscale; `b` is resized to `a`'s size first."""
    ga = a.convert("L")
    gb = b.convert("L")
    if gb.size != ga.size:
        gb = gb.resize(ga.size, Image.Resampling.LANCZOS)
    x = np.asarray(ga, dtype=np.float64)
    y = np.asarray(gb, dtype=np.float64)
    k = _gaussian_kernel()
    if min(x.shape) < len(k):
        return 1.0 if np.array_equal(x, y) else float("nan")
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    mx, my = _filter_valid(x, k), _filter_valid(y, k)
    sxx = _filter_valid(x * x, k) - mx * mx
    syy = _filter_valid(y * y, k) - my * my
    sxy = _filter_valid(x * y, k) - mx * my
    num = (2 * mx * my + c1) * (2 * sxy + c2)
    den = (mx * mx + my * my + c1) * (sxx + syy + c2)
    return float(np.mean(num / den))


# --- effective dpi ------------------------------------------------------------------------

_Matrix = tuple[float, float, float, float, float, float]
_IDENTITY: _Matrix = (1.0, 0.0, 0.0, 1.0, 0.0, 0.0)


def _mul(m: _Matrix, n: _Matrix) -> _Matrix:
    """m × n in PDF's row-vector convention (m applied first)."""
    a, b, c, d, e, f = m
    a2, b2, c2, d2, e2, f2 = n
    return (
        a * a2 + b * c2,
        a * b2 + b * d2,
        c * a2 + d * c2,
        c * b2 + d * d2,
        e * a2 + f * c2 + e2,
        e * b2 + f * d2 + f2,
    )


def _image_dpi_under(ctm: _Matrix, width_px: int, height_px: int, user_unit: float) -> float:
    # The unit square of an image maps to the parallelogram spanned by (a, b) and (c, d).
    a, b, c, d, _, _ = ctm
    w_in = math.hypot(a, b) * user_unit / 72.0
    h_in = math.hypot(c, d) * user_unit / 72.0
    if w_in <= 0 or h_in <= 0:
        return math.inf
    return min(width_px / w_in, height_px / h_in)


def _walk(content: pikepdf.Object, resources: pikepdf.Object, ctm: _Matrix, user_unit: float, depth: int) -> float:
    """Minimum dpi over the images drawn by one content stream (forms followed, roughly)."""
    best = math.inf
    stack: list[_Matrix] = []
    xobjects = resources.get("/XObject") if resources is not None else None
    for operands, operator in pikepdf.parse_content_stream(content):
        op = str(operator)
        if op == "q":
            stack.append(ctm)
        elif op == "Q":
            ctm = stack.pop() if stack else _IDENTITY
        elif op == "cm" and len(operands) == 6:
            ctm = _mul(tuple(float(v) for v in operands), ctm)  # type: ignore[arg-type]
        elif op == "Do" and xobjects is not None:
            xobj = xobjects.get(operands[0])
            if xobj is None:
                continue
            subtype = xobj.get("/Subtype")
            if subtype == "/Image":
                # An image drawn through a mask (MRC's foreground: the text's colour at 50 dpi
                # through a 300 dpi mask) shows the mask's detail: count the mask's pixels.
                mask = xobj.get("/SMask", xobj.get("/Mask"))
                src = mask if isinstance(mask, pikepdf.Stream) else xobj
                best = min(best, _image_dpi_under(ctm, int(src.Width), int(src.Height), user_unit))
            elif subtype == "/Form" and depth < 8:
                form_m = tuple(float(v) for v in xobj.get("/Matrix", [1, 0, 0, 1, 0, 0]))
                sub_res = xobj.get("/Resources", resources)
                best = min(best, _walk(xobj, sub_res, _mul(form_m, ctm), user_unit, depth + 1))  # type: ignore[arg-type]
        elif op == "INLINE IMAGE" and operands:
            inline = operands[0]
            try:
                w, h = int(inline.width), int(inline.height)
            except (TypeError, ValueError, AttributeError, pikepdf.PdfError):
                continue
            best = min(best, _image_dpi_under(ctm, w, h, user_unit))
    return best


def effective_dpi_of_pdf(pdf: Path) -> list[float]:
    """Per page (0-based order), the lowest effective dpi of the images it draws: pixels ÷
    displayed inches, following q/Q/cm and form XObjects. A page without raster images
    (vector text only) gives `math.inf`."""
    result: list[float] = []
    with pikepdf.open(pdf) as doc:
        for page in doc.pages:
            user_unit = float(page.obj.get("/UserUnit", 1.0))
            try:
                dpi = _walk(page.obj, page.resources, _IDENTITY, user_unit, 0)
            except pikepdf.PdfError:
                dpi = math.nan
            result.append(dpi)
    return result

"""Mixed raster content: a page → a sharp text mask, its colours, and the page without text.

A single JPEG spends its bytes on the sharp edges of text, which is what it is worst at. MRC
(as in DjVu, Bottou et al. 1998, and scanner MRC) separates the page into three layers:

- mask: the text, bilevel at the page's resolution (up to 300 dpi), CCITT G4 or Flate;
- foreground: the text's colour, one colour for the page or a low-resolution colour image;
- background: the page with the text pixels filled from their surroundings (so the JPEG has
  no sharp edges left to pay for), at ≥ 200 dpi: photos, tints and seals live there.

The PDF draws the background, then paints the foreground through the mask (a stencil
/ImageMask in one colour, or a colour image with an explicit /Mask) — plain ISO 32000-1
(§8.9.6.2–8.9.6.3), no JBIG2 or JPEG 2000. Everything is vectorised numpy and Pillow.

A leaf next to classify: it imports only Pillow, numpy and pikepdf.
"""

from __future__ import annotations

import io
import zlib
from dataclasses import dataclass

import numpy as np
import pikepdf
from PIL import Image, ImageChops, ImageFilter

__all__ = ["Layers", "mrc_page_pdf", "segment"]

# Text is this much darker than the paper around it (or lighter, on a dark ground), on the
# 0–255 scale; at least MIN_CONTRAST, and at least this share of the paper–ink gap so that
# the threshold sits towards the paper, like classify.binarise (thin Mincho strokes keep).
MIN_CONTRAST = 40
CONTRAST_SHARE = 0.3
# Inverted text (white on colour) is looked for only where the ground is this dark.
DARK_GROUND = 150
# A block whose in-between pixels (neither ground nor ink) outnumber its ink pixels this
# many times is a photo, gradient or halftone: nothing of it goes into the mask, the
# background keeps it whole (binarised photos look posterised).
PHOTO_MID_RATIO = 2.5
# Below this share of the page in text pixels there is nothing for MRC to separate.
MIN_TEXT_FRACTION = 0.0005
# The foreground colour image's resolution (its detail lives in the mask).
FOREGROUND_DPI = 50
# One ink (one stencil painted in it, no colour image): text cells' lightness within this
# range (5th–95th percentile; thin strokes read paler) and chroma below this.
ONE_INK_LIGHTNESS = 110
ONE_INK_CHROMA = 48


@dataclass(frozen=True)
class Layers:
    """A page's MRC layers. mask: mode "1", text black (0), at mask_dpi; background: RGB or
    L at background_dpi; foreground: None when the text is one colour (`colour`)."""

    mask: Image.Image
    mask_dpi: float
    background: Image.Image
    background_dpi: float
    foreground: Image.Image | None
    colour: tuple[int, ...]
    text_fraction: float


def _block_median(a: np.ndarray, b: int) -> np.ndarray:
    """Median of each b×b block (edges padded by repetition; a partition, no full sort)."""
    h, w = a.shape
    ph, pw = -h % b, -w % b
    if ph or pw:
        a = np.pad(a, ((0, ph), (0, pw)), mode="edge")
    blocks = a.reshape(a.shape[0] // b, b, a.shape[1] // b, b)
    flat = blocks.transpose(0, 2, 1, 3).reshape(a.shape[0] // b, a.shape[1] // b, b * b)
    k = (b * b) // 2
    return np.partition(flat, k, axis=2)[:, :, k]


def _ground(grey: Image.Image, dpi: float) -> np.ndarray:
    """The brightness of what the text sits on, per ~2 mm block: the block's median (text
    covers less than half of a block), then a median over ~10 mm so a bold title's stroke,
    which can fill a block, takes its ground from the blocks around it. Measured on a 2×
    box reduction (4× fewer pixels to sort; thin strokes only get paler)."""
    half = grey.reduce(2) if dpi >= 200 else grey
    b = max(2, round(dpi / 12 / (2 if dpi >= 200 else 1)))
    med = _block_median(np.asarray(half), b).astype(np.uint8)
    return np.asarray(Image.fromarray(med, "L").filter(ImageFilter.MedianFilter(5)))


def _full(small: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Per-block values repeated over their blocks, cropped to `shape` (a smooth map: the
    steps between blocks are a level or two)."""
    by = -(-shape[0] // small.shape[0])
    bx = -(-shape[1] // small.shape[1])
    block = np.clip(small, 0, 255).astype(np.uint8)
    return np.repeat(np.repeat(block, by, axis=0), bx, axis=1)[: shape[0], : shape[1]]


def _smooth(small: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Per-block values enlarged bilinearly to `size` (Pillow, in C)."""
    img = Image.fromarray(np.clip(small, 0, 255).astype(np.uint8), "L")
    return np.asarray(img.resize(size, Image.Resampling.BILINEAR))


def _dilate(mask: np.ndarray) -> np.ndarray:
    """3×3 dilation (numpy shifts: ~10× faster than Pillow's MaxFilter on a page)."""
    out = mask.copy()
    out[1:, :] |= mask[:-1, :]
    out[:-1, :] |= mask[1:, :]
    tmp = out.copy()
    out[:, 1:] |= tmp[:, :-1]
    out[:, :-1] |= tmp[:, 1:]
    return out


def _text_mask(grey: Image.Image, dpi: float) -> tuple[Image.Image, Image.Image]:
    """Text pixels (L, 255 = text) and each pixel's distance from its ground (L, |Δ|).

    The thresholds depend only on the ground, so they are computed per block and enlarged
    (Pillow, in C); the full-resolution work is a handful of comparisons."""
    ground = _ground(grey, dpi).astype(np.int16)
    ink = float(np.percentile(np.asarray(grey.reduce(4)), 1))  # the darkest ink on the page
    contrast = np.maximum(MIN_CONTRAST, CONTRAST_SHARE * np.maximum(ground - ink, 0))
    light_at = np.where(ground < DARK_GROUND, ground + np.maximum(contrast, MIN_CONTRAST + 20), 255)
    g = np.asarray(grey)
    # Thresholds enlarged bilinearly, not block by block: a step at a block edge next to a photo
    # or a tint would turn a line of paper pixels into "light text" (a white seam in the mask).
    dark = g < _smooth(ground - contrast, grey.size)
    light = g > _smooth(light_at, grey.size)
    distance = ImageChops.difference(grey, Image.fromarray(_smooth(ground, grey.size), "L"))
    text = dark | light
    # Photo blocks (~2 mm): many in-between pixels (neither ground nor ink) per ink pixel.
    mid = (np.asarray(distance) > 14) & ~text
    b = max(2, round(dpi / 12))
    n_mid = np.asarray(Image.fromarray(mid.view(np.uint8) * 255, "L").reduce(b), dtype=np.float32)
    n_ink = np.asarray(Image.fromarray(text.view(np.uint8) * 255, "L").reduce(b), dtype=np.float32)
    photo = n_mid > PHOTO_MID_RATIO * n_ink + 255 / 16
    photo = np.asarray(Image.fromarray(photo.view(np.uint8) * 255, "L").filter(ImageFilter.MaxFilter(3))) > 0
    text &= ~_full(photo.view(np.uint8), g.shape).view(bool)
    text = _clustered(text)
    return Image.fromarray(text.view(np.uint8) * 255, "L"), distance


def _clustered(mask: np.ndarray) -> np.ndarray:
    """Pixels with at least two of 8 neighbours also set: lone scanner specks drop."""
    m = mask.view(np.uint8)
    p = np.pad(m, 1)
    h, w = m.shape
    n = (
        p[0:h, 0:w] + p[0:h, 1 : w + 1] + p[0:h, 2 : w + 2]
        + p[1 : h + 1, 0:w] + p[1 : h + 1, 2 : w + 2]
        + p[2 : h + 2, 0:w] + p[2 : h + 2, 1 : w + 1] + p[2 : h + 2, 2 : w + 2]
    )  # fmt: skip
    return mask & (n >= 2)


def _fill(p_img: Image.Image, w_img: Image.Image) -> np.ndarray:
    """Mean colours from premultiplied box means (`p_img`: colour × weight; `w_img`: weight),
    with thinly covered cells filled from a 4× coarser level, recursively (a pyramid fill):
    text holes take the colour around them. A cell's own mean and the coarse one blend by its
    weight, so the edge of a hole is not a step the JPEG must pay for."""
    p = np.asarray(p_img, dtype=np.float32)
    if p.ndim == 2:
        p = p[..., None]
    w = np.asarray(w_img, dtype=np.float32) / 255.0
    out = p / np.maximum(w, 1e-3)[..., None]
    thin = w < FULL_WEIGHT
    if not thin.any() or min(w.shape) < 2 or not w.any():
        return out
    coarse = _fill(p_img.reduce(4), w_img.reduce(4))
    ys, xs = np.nonzero(thin)
    c = (FULL_WEIGHT - w[ys, xs])[:, None]
    cy = np.minimum(ys // 4, coarse.shape[0] - 1)
    cx = np.minimum(xs // 4, coarse.shape[1] - 1)
    out[ys, xs] = (p[ys, xs] + c * coarse[cy, cx]) / (w[ys, xs][:, None] + c)
    return out


# A cell with at least this share of its pixels kept is its own mean.
FULL_WEIGHT = 0.25


def _to_image(values: np.ndarray, mode: str) -> Image.Image:
    arr = np.clip(np.rint(values), 0, 255).astype(np.uint8)
    return Image.fromarray(arr[..., 0] if mode == "L" else arr, mode)


def _background(image: Image.Image, knocked: Image.Image, size: tuple[int, int]) -> Image.Image:
    """The page at `size` with the `knocked` pixels (L, 255) replaced by the colour around them."""
    keep = ImageChops.invert(knocked)
    premult = Image.new(image.mode, image.size, 0)
    premult.paste(image, mask=keep)
    # Box means of premultiplied colour and of the weight: their ratio is the mean of the kept
    # pixels under each background pixel (Pillow's C resize; no per-pixel Python).
    p_img = premult.resize(size, Image.Resampling.BOX)
    del premult
    return _to_image(_fill(p_img, keep.resize(size, Image.Resampling.BOX)), image.mode)


def _fill_small(values: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """_fill for small numpy arrays (sums, not means): empty cells from a 4× coarser level."""
    h, w = weight.shape
    out = values / np.maximum(weight, 1e-6)[..., None]
    empty = weight <= 0
    if not empty.any() or min(h, w) < 2 or not weight.any():
        return out
    rows, cols = np.arange(0, h, 4), np.arange(0, w, 4)
    coarse_w = np.add.reduceat(np.add.reduceat(weight, rows, axis=0), cols, axis=1)
    coarse_v = np.add.reduceat(np.add.reduceat(values, rows, axis=0), cols, axis=1)
    coarse = _fill_small(coarse_v, coarse_w)
    ys, xs = np.nonzero(empty)
    out[ys, xs] = coarse[ys // 4, xs // 4]
    return out


def _one_ink(colours: np.ndarray) -> bool:
    """Whether the text's cell colours (n × channels) are one ink. Lightness varies with
    stroke width (a thin stroke's cell is paler: painted in the ink's colour it only gets
    crisper), so one ink is a narrow chroma and a lightness range without a second ink far
    from the first (white on blue, a red seal beside black text)."""
    if colours.size == 0:
        return True
    lightness = colours.mean(axis=1)
    chroma = colours.max(axis=1) - colours.min(axis=1)
    low, high = np.percentile(lightness, [5, 95])
    return bool(high - low <= ONE_INK_LIGHTNESS and np.percentile(chroma, 99.5) <= ONE_INK_CHROMA)


def _foreground(image: Image.Image, text: np.ndarray, distance: Image.Image, dpi: float) -> tuple[Image.Image, bool]:
    """The text's colour at FOREGROUND_DPI, weighted by contrast² so a stroke's core counts
    more than its anti-aliased rim, holes filled from around; and whether one colour is all
    (then a 1×1 image of it). Summed over the text pixels only (a few % of the page)."""
    b = max(1, round(dpi / FOREGROUND_DPI))
    gh, gw = -(-image.height // b), -(-image.width // b)
    ys, xs = np.nonzero(text)
    d = np.asarray(distance)[ys, xs].astype(np.float32)
    w = d * d
    pixels = np.asarray(image)[ys, xs].astype(np.float32).reshape(len(ys), -1)
    cell = (ys // b) * gw + xs // b
    sw = np.bincount(cell, w, minlength=gh * gw).reshape(gh, gw)
    sv = np.stack([np.bincount(cell, w * pixels[:, c], minlength=gh * gw) for c in range(pixels.shape[1])], axis=1)
    has = sw > 0
    mean = sv.reshape(gh, gw, -1) / np.maximum(sw, 1e-6)[..., None]
    colours = _fill_small(mean * has[..., None], has.astype(np.float64))
    # One colour or several, judged on cells with real ink: a cell holding only the pale rim of
    # a thin stroke says little about the ink's colour.
    used = colours[sw >= 0.25 * np.median(sw[has])] if has.any() else colours[has]
    median = np.median(used, axis=0) if used.size else np.zeros(colours.shape[2])
    mode = "L" if image.mode == "L" else "RGB"
    if _one_ink(used):
        colour = tuple(int(v) for v in np.clip(np.rint(median), 0, 255))
        return Image.new(mode, (1, 1), colour if mode == "RGB" else colour[0]), True
    return _to_image(colours, mode), False


def segment(image: Image.Image, dpi: float, background_dpi: float) -> Layers | None:
    """Split a page (RGB or L, at `dpi`) into MRC layers; None when it carries no text to
    separate (then the page keeps its other rungs)."""
    grey = image.convert("L") if image.mode != "L" else image
    text, distance = _text_mask(grey, dpi)
    hist = text.histogram()
    fraction = hist[255] / (image.width * image.height)
    if fraction < MIN_TEXT_FRACTION:
        return None
    text_px = np.asarray(text) > 0
    fg, one = _foreground(image, text_px, distance, dpi)
    bg_dpi = min(background_dpi, dpi)
    size = (max(1, round(image.width * bg_dpi / dpi)), max(1, round(image.height * bg_dpi / dpi)))
    # The anti-aliased rim of each stroke goes with the text: left in the background it
    # would draw a halo, and cost the JPEG the edges MRC takes out.
    knocked = Image.fromarray(_dilate(text_px).view(np.uint8) * 255, "L")
    background = _background(image, knocked, size)
    mask = ImageChops.invert(text).convert("1", dither=Image.Dither.NONE)  # text = 0
    colour = fg.getpixel((0, 0))
    colour_t = colour if isinstance(colour, tuple) else (int(colour),)  # type: ignore[arg-type]
    return Layers(
        mask=mask,
        mask_dpi=dpi,
        background=background,
        background_dpi=dpi * background.width / image.width,
        foreground=None if one else fg,
        colour=colour_t,
        text_fraction=round(fraction, 6),
    )


# --- PDF ------------------------------------------------------------------------------------


def _mask_stream(pdf: pikepdf.Pdf, mask: Image.Image) -> pikepdf.Stream:
    """The mask as an /ImageMask (sample 0 = text = painted): CCITT G4 or Flate, the smaller."""
    buf = io.BytesIO()
    mask.save(buf, "TIFF", compression="group4", tiffinfo={278: mask.height})
    with Image.open(io.BytesIO(buf.getvalue())) as tif:
        offset = int(tif.tag_v2[273][0])
        count = int(tif.tag_v2[279][0])
        black_is_1 = int(tif.tag_v2.get(262, 0)) == 1
    g4 = buf.getvalue()[offset : offset + count]
    packed = np.packbits(np.asarray(mask, dtype=bool), axis=1)  # 1 = paper, 0 = text
    flate = zlib.compress(packed.tobytes(), 9)
    use_g4 = len(g4) <= len(flate)
    stream = pikepdf.Stream(pdf, g4 if use_g4 else flate)
    stream.Type = pikepdf.Name.XObject
    stream.Subtype = pikepdf.Name.Image
    stream.Width, stream.Height = mask.width, mask.height
    stream.ImageMask = True
    stream.BitsPerComponent = 1
    if use_g4:
        stream.Filter = pikepdf.Name.CCITTFaxDecode
        stream.DecodeParms = pikepdf.Dictionary(K=-1, Columns=mask.width, Rows=mask.height, BlackIs1=black_is_1)
    else:
        stream.Filter = pikepdf.Name.FlateDecode
    return stream


def _image_stream(pdf: pikepdf.Pdf, image: Image.Image, quality: int) -> pikepdf.Stream:
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=quality)
    stream = pikepdf.Stream(pdf, buf.getvalue())
    space = pikepdf.Name.DeviceGray if image.mode == "L" else pikepdf.Name.DeviceRGB
    stream.Type = pikepdf.Name.XObject
    stream.Subtype = pikepdf.Name.Image
    stream.Width, stream.Height = image.width, image.height
    stream.ColorSpace = space
    stream.BitsPerComponent = 8
    stream.Filter = pikepdf.Name.DCTDecode
    return stream


# The foreground image is small and flat: its JPEG quality hardly shows in the bytes.
FOREGROUND_QUALITY = 75


def mrc_page_pdf(layers: Layers, quality: int) -> bytes:
    """A one-page PDF: the background JPEG, then the text painted through the mask."""
    pdf = pikepdf.new()
    w_pt = layers.mask.width * 72.0 / layers.mask_dpi
    h_pt = layers.mask.height * 72.0 / layers.mask_dpi
    page = pdf.add_blank_page(page_size=(w_pt, h_pt))
    xobjects = pikepdf.Dictionary(Bg=pdf.make_indirect(_image_stream(pdf, layers.background, quality)))
    mask = pdf.make_indirect(_mask_stream(pdf, layers.mask))
    place = f"{w_pt:.4f} 0 0 {h_pt:.4f} 0 0 cm".encode()
    ops = [b"q " + place + b" /Bg Do Q"]
    if layers.foreground is None:
        xobjects.Mk = mask
        grey = len(layers.colour) == 1
        fill = " ".join(f"{v / 255:.4f}" for v in layers.colour) + (" g" if grey else " rg")
        ops.append(b"q " + place + b" " + fill.encode() + b" /Mk Do Q")
    else:
        fg = _image_stream(pdf, layers.foreground, FOREGROUND_QUALITY)
        fg.Mask = mask  # explicit masking (§8.9.6.3): the mask may be finer
        xobjects.Fg = pdf.make_indirect(fg)
        ops.append(b"q " + place + b" /Fg Do Q")
    page.obj.Resources = pikepdf.Dictionary(XObject=xobjects)
    page.obj.Contents = pdf.make_indirect(pikepdf.Stream(pdf, b"\n".join(ops)))
    out = io.BytesIO()
    pdf.save(out, deterministic_id=True, compress_streams=True)
    return out.getvalue()

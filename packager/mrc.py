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
# Foreground colours closer than this (max over channels) to the page's text colour are
# that colour: one stencil painted in it, no colour image.
ONE_COLOUR_SPREAD = 48


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


def _block_reduce(a: np.ndarray, b: int, how: str) -> np.ndarray:
    """Per b×b block (edges padded by repetition): 'sum' or 'median' (partition, no full sort)."""
    h, w = a.shape
    ph, pw = -h % b, -w % b
    if ph or pw:
        a = np.pad(a, ((0, ph), (0, pw)), mode="edge")
    blocks = a.reshape(a.shape[0] // b, b, a.shape[1] // b, b)
    if how == "sum":
        return blocks.sum(axis=(1, 3), dtype=np.int64)
    flat = blocks.transpose(0, 2, 1, 3).reshape(a.shape[0] // b, a.shape[1] // b, b * b)
    k = (b * b) // 2
    return np.partition(flat, k, axis=2)[:, :, k]


def _upsample(small: np.ndarray, size: tuple[int, int], resample: Image.Resampling) -> np.ndarray:
    return np.asarray(Image.fromarray(small.astype(np.uint8), "L").resize(size, resample))


def _ground(grey: np.ndarray, dpi: float) -> np.ndarray:
    """The brightness of what the text sits on, around each pixel: the median of ~2 mm blocks
    (text covers less than half of a block), then a median over ~10 mm so a bold title's
    stroke, which can fill a block, takes its ground from the blocks around it."""
    b = max(2, round(dpi / 12))
    med = _block_reduce(grey, b, "median").astype(np.uint8)
    smooth = Image.fromarray(med, "L").filter(ImageFilter.MedianFilter(5))
    return np.asarray(smooth.resize((grey.shape[1], grey.shape[0]), Image.Resampling.BILINEAR))


def _dilate(mask: np.ndarray) -> np.ndarray:
    """3×3 dilation."""
    out = mask.copy()
    out[1:, :] |= mask[:-1, :]
    out[:-1, :] |= mask[1:, :]
    tmp = out.copy()
    out[:, 1:] |= tmp[:, :-1]
    out[:, :-1] |= tmp[:, 1:]
    return out


def _clustered(mask: np.ndarray) -> np.ndarray:
    """Pixels with at least two of 8 neighbours also set (lone scanner specks drop)."""
    m = mask.astype(np.uint8)
    p = np.pad(m, 1)
    h, w = m.shape
    n = (
        p[0:h, 0:w] + p[0:h, 1 : w + 1] + p[0:h, 2 : w + 2]
        + p[1 : h + 1, 0:w] + p[1 : h + 1, 2 : w + 2]
        + p[2 : h + 2, 0:w] + p[2 : h + 2, 1 : w + 1] + p[2 : h + 2, 2 : w + 2]
    )  # fmt: skip
    return mask & (n >= 2)


def _text_mask(grey: np.ndarray, dpi: float) -> tuple[np.ndarray, np.ndarray]:
    """Text pixels, and each pixel's difference from its ground (signed)."""
    ground = _ground(grey, dpi).astype(np.int16)
    g = grey.astype(np.int16)
    diff = g - ground
    ink = float(np.percentile(grey[::4, ::4], 1))  # the darkest ink on the page
    contrast = np.maximum(MIN_CONTRAST, (CONTRAST_SHARE * np.maximum(ground - ink, 0))).astype(np.int16)
    dark = diff < -contrast
    light = (diff > np.maximum(contrast, MIN_CONTRAST + 20)) & (ground < DARK_GROUND)
    text = dark | light
    # Photo blocks (~2 mm): many in-between pixels for each ink pixel.
    b = max(2, round(dpi / 12))
    mid = (np.abs(diff) > 14) & ~text
    n_mid = _block_reduce(mid.view(np.uint8), b, "sum")
    n_ink = _block_reduce(text.view(np.uint8), b, "sum")
    photo = n_mid > PHOTO_MID_RATIO * n_ink + b * b // 16
    photo_img = Image.fromarray(photo.astype(np.uint8) * 255, "L").filter(ImageFilter.MaxFilter(3))
    photo_full = _upsample(np.asarray(photo_img), (grey.shape[1], grey.shape[0]), Image.Resampling.NEAREST) > 0
    return _clustered(text & ~photo_full), diff


def _fill_holes(values: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Weighted means (`values` are per-channel sums × weight) with thinly covered cells
    filled from a coarser level, recursively (a pyramid fill): text holes take the colour
    around them. A cell's own mean and the coarse one blend by its weight, so the edge of a
    hole is not a step the JPEG must pay for."""
    h, w = weight.shape
    out = values / np.maximum(weight, 1e-6)[..., None]
    thin = weight < FULL_WEIGHT
    if not thin.any() or min(h, w) < 2:
        return out
    rows, cols = np.arange(0, h, 4), np.arange(0, w, 4)
    coarse_w = np.add.reduceat(np.add.reduceat(weight, rows, axis=0), cols, axis=1)
    if coarse_w.max() <= 0:
        return out
    coarse_v = np.add.reduceat(np.add.reduceat(values, rows, axis=0), cols, axis=1)
    coarse = _fill_holes(coarse_v, coarse_w)
    ys, xs = np.nonzero(thin)
    c = (FULL_WEIGHT - weight[ys, xs])[:, None]
    out[ys, xs] = (values[ys, xs] + c * coarse[ys // 4, xs // 4]) / (weight[ys, xs][:, None] + c)
    return out


# A background cell with at least this share of its pixels kept is its own mean.
FULL_WEIGHT = 0.25


def _background(image: Image.Image, knocked: np.ndarray, size: tuple[int, int]) -> Image.Image:
    """The page at `size` with the `knocked` pixels replaced by the colour around them."""
    keep = Image.fromarray((~knocked).astype(np.uint8) * 255, "L")
    premult = Image.new(image.mode, image.size, 0)
    premult.paste(image, mask=keep)
    # Box averages of premultiplied colour and of the weight: their ratio is the mean of the
    # kept pixels under each background pixel (Pillow's C resize; no per-pixel Python).
    p = np.asarray(premult.resize(size, Image.Resampling.BOX), dtype=np.float32)
    del premult
    wgt = np.asarray(keep.resize(size, Image.Resampling.BOX), dtype=np.float32) / 255.0
    if p.ndim == 2:
        p = p[..., None]
    out = _fill_holes(p, wgt)
    np.clip(np.rint(out, out=out), 0, 255, out=out)
    arr = out.astype(np.uint8)
    return Image.fromarray(arr[..., 0] if image.mode == "L" else arr, image.mode)


def _foreground(image: Image.Image, text: np.ndarray, strength: np.ndarray, dpi: float) -> tuple[Image.Image, bool]:
    """The text's colour at FOREGROUND_DPI, weighted by contrast (`strength`, 0–255) so a
    stroke's core counts more than its anti-aliased rim, holes filled from around; and whether
    one colour is all (then a 1×1 image of it)."""
    b = max(1, round(dpi / FOREGROUND_DPI))
    size = (max(1, -(-image.width // b)), max(1, -(-image.height // b)))
    weight = Image.fromarray(np.where(text, strength, 0).astype(np.uint8), "L")
    # Premultiplied by the weight in Pillow's C (a·w/255 per channel), then box averages.
    bands = [ImageChops.multiply(band, weight) for band in image.split()]
    sv = np.stack([np.asarray(bd.resize(size, Image.Resampling.BOX), dtype=np.float32) for bd in bands], axis=2)
    sw = np.asarray(weight.resize(size, Image.Resampling.BOX), dtype=np.float32) / 255.0
    colours = _fill_holes(sv, sw)
    used = colours[sw > 0]
    median = np.median(used, axis=0) if used.size else np.zeros(len(bands))
    spread = float(np.percentile(np.abs(used - median).max(axis=1), 99)) if used.size else 0.0
    mode = "L" if image.mode == "L" else "RGB"
    if spread <= ONE_COLOUR_SPREAD:
        colour = tuple(int(v) for v in np.clip(np.rint(median), 0, 255))
        return Image.new(mode, (1, 1), colour if mode == "RGB" else colour[0]), True
    out = np.clip(np.rint(colours), 0, 255).astype(np.uint8)
    return Image.fromarray(out[..., 0] if mode == "L" else out, mode), False


def segment(image: Image.Image, dpi: float, background_dpi: float) -> Layers | None:
    """Split a page (RGB or L, at `dpi`) into MRC layers; None when it carries no text to
    separate (then the page keeps its other rungs)."""
    grey_img = image.convert("L") if image.mode != "L" else image
    grey = np.asarray(grey_img)
    text, diff = _text_mask(grey, dpi)
    fraction = float(np.count_nonzero(text)) / text.size
    if fraction < MIN_TEXT_FRACTION:
        return None
    np.abs(diff, out=diff)
    strength = np.minimum(diff.astype(np.int32) ** 2 // 190, 255).astype(np.uint8)  # contrast², 0–255
    del diff
    fg, one = _foreground(image, text, strength, dpi)
    bg_dpi = min(background_dpi, dpi)
    size = (max(1, round(image.width * bg_dpi / dpi)), max(1, round(image.height * bg_dpi / dpi)))
    # The anti-aliased rim of each stroke goes with the text: left in the background it
    # would draw a halo, and cost the JPEG the edges MRC takes out.
    background = _background(image, _dilate(text), size)
    mask = Image.fromarray(np.where(text, 0, 255).astype(np.uint8), "L").convert("1", dither=Image.Dither.NONE)
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

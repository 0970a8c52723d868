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
    """A page's MRC layers. mask: mode "1", text black (0), at mask_dpi; background: YCbCr
    (a colour page; JPEG's own space) or L at background_dpi; foreground: RGB or L, None when
    the text is one colour (`colour`)."""

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
    # numpy sorts uint8 by radix with kind="stable": ~2.5× faster than a partition here.
    return np.sort(flat, axis=2, kind="stable")[:, :, (b * b) // 2]


def _ground(grey: Image.Image, dpi: float) -> np.ndarray:
    """The brightness of what the text sits on, per ~2 mm block: the block's median (text
    covers less than half of a block), then a median over ~10 mm so a bold title's stroke,
    which can fill a block, takes its ground from the blocks around it. Measured on a 2×
    box reduction (4× fewer pixels to sort; thin strokes only get paler)."""
    half = grey.reduce(2) if dpi >= 200 else grey
    b = max(2, round(dpi / 12 / (2 if dpi >= 200 else 1)))
    med = _block_median(np.asarray(half), b)
    return np.asarray(Image.fromarray(med, "L").filter(ImageFilter.MedianFilter(5)))


def _percentile(values: Image.Image, q: float) -> float:
    """np.percentile(values, q) (linear between the two order statistics around it) from the L
    image's histogram: no sort, the same value."""
    counts = np.cumsum(values.histogram())
    at = (counts[-1] - 1) * q / 100
    below = int(at)
    lo = int(np.searchsorted(counts, below, side="right"))
    hi = int(np.searchsorted(counts, below + 1, side="right"))
    return lo + (hi - lo) * (at - below)


def _full(small: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Per-block values repeated over their blocks, cropped to `shape`."""
    by = -(-shape[0] // small.shape[0])
    bx = -(-shape[1] // small.shape[1])
    return np.repeat(np.repeat(small, by, axis=0), bx, axis=1)[: shape[0], : shape[1]]


def _l_image(mask: np.ndarray) -> Image.Image:
    """A bool array as an L image, 255 where set (for Pillow's C reductions)."""
    return Image.fromarray(mask.view(np.uint8) * np.uint8(255), "L")


def _dilate(mask: np.ndarray) -> np.ndarray:
    """3×3 dilation (numpy shifts: ~10× faster than Pillow's MaxFilter on a page)."""
    out = mask.copy()
    out[1:, :] |= mask[:-1, :]
    out[:-1, :] |= mask[1:, :]
    tmp = out.copy()
    out[:, 1:] |= tmp[:, :-1]
    out[:, :-1] |= tmp[:, 1:]
    return out


def _light_above(ground: np.ndarray, contrast: np.ndarray) -> list[int]:
    """For each ground level, the lightness above which a pixel is inverted text (255: none, on
    a light ground), as a table: applied to the enlarged ground by Pillow's point."""
    level = np.arange(256)
    at = np.full(256, 255, dtype=np.uint8)
    dark = level < DARK_GROUND
    # The contrast of each level as measured on the page's blocks (it depends on the ground alone).
    by_level = np.full(256, float(MIN_CONTRAST))
    by_level[ground.ravel()] = contrast.ravel()
    at[dark] = np.clip(level[dark] + np.maximum(by_level[dark], MIN_CONTRAST + 20), 0, 255)
    return at.tolist()


def _smooth(small: np.ndarray, size: tuple[int, int]) -> Image.Image:
    """Per-block values enlarged bilinearly to `size` (Pillow, in C)."""
    return Image.fromarray(np.clip(small, 0, 255).astype(np.uint8), "L").resize(size, Image.Resampling.BILINEAR)


# The ground and threshold maps are enlarged to a quarter of the page's size, and each of their
# values then covers 4×4 pixels: ~6× cheaper than enlarging them to full size. They are smooth
# (one value per 2 mm block, interpolated), so this moves a threshold by a fraction of a level
# except across a photo's or a tint's edge; measured: the same text mask on text pages.
MAP_STEP = 4


def _spread(small: Image.Image, shape: tuple[int, int]) -> np.ndarray:
    """Each value of a 1/MAP_STEP-size map over MAP_STEP × MAP_STEP pixels, cropped to `shape`
    (rows, columns): one row repeated, then copied down — ~3× faster than Pillow's nearest
    resize and its conversion to numpy, the same values."""
    values = np.asarray(small)
    out = np.empty((values.shape[0], MAP_STEP, values.shape[1] * MAP_STEP), np.uint8)
    out[:, 0] = np.repeat(values, MAP_STEP, axis=1)
    out[:, 1:] = out[:, :1]
    return out.reshape(values.shape[0] * MAP_STEP, -1)[: shape[0], : shape[1]]


# A pixel further than this from its ground is neither ground nor (if not text) ink: "in between".
MID_DISTANCE = 14


def _text_mask(grey: Image.Image, g: np.ndarray, dpi: float) -> tuple[np.ndarray, np.ndarray]:
    """Text pixels (bool), and the ground at 1/MAP_STEP of the resolution (uint8).

    The thresholds depend only on the ground, so they are computed per block and enlarged
    (Pillow, in C); the full-resolution work is a handful of comparisons."""
    ground = _ground(grey, dpi).astype(np.int16)
    ink = _percentile(grey.reduce(4), 1)  # the darkest ink on the page
    contrast = np.maximum(MIN_CONTRAST, CONTRAST_SHARE * np.maximum(ground - ink, 0))
    small = (-(-grey.width // MAP_STEP), -(-grey.height // MAP_STEP))
    # Thresholds enlarged bilinearly, not block by block: a step at a block edge next to a photo
    # or a tint would turn a line of paper pixels into "light text" (a white seam in the mask).
    text = g < _spread(_smooth(ground - contrast, small), g.shape)
    ground_small = _smooth(ground, small)
    ground_full = Image.fromarray(np.ascontiguousarray(_spread(ground_small, g.shape)), "L")
    if ground.min() < DARK_GROUND:  # inverted text is looked for only on a dark ground
        # From the enlarged ground through a table, not an enlarged threshold map: between a dark
        # tint or photo and the paper the map's threshold would fall below the paper (a bar of
        # paper pixels called "light text" along the photo's edge); the table keeps 255 there.
        # (The table applied before spreading: the same values, on 1/16 of the pixels.)
        text |= g > _spread(ground_small.point(_light_above(ground, contrast)), g.shape)
    # Photo blocks (~2 mm): many in-between pixels (neither ground nor ink) per ink pixel,
    # counted by Pillow's reduce (the block mean) on 0/255 images. In place where it can be:
    # each new full-size array or image costs its page faults (~3× Pillow's own work here).
    mid = np.asarray(ImageChops.difference(grey, ground_full)) > MID_DISTANCE
    np.greater(mid, text, out=mid)  # and not text
    mid_255 = mid.view(np.uint8)
    np.multiply(mid_255, np.uint8(255), out=mid_255)
    b = max(2, round(dpi / 12))
    n_mid = np.asarray(Image.fromarray(mid_255, "L").reduce(b), dtype=np.float32)
    np.multiply(text.view(np.uint8), np.uint8(255), out=mid_255)  # the same buffer, now the ink
    n_ink = np.asarray(Image.fromarray(mid_255, "L").reduce(b), dtype=np.float32)
    photo = n_mid > PHOTO_MID_RATIO * n_ink + 255 / 16
    if photo.any():
        photo = np.asarray(_l_image(photo).filter(ImageFilter.MaxFilter(3))) > 0
        text &= ~_full(photo, g.shape)
    return _clustered(text), np.asarray(ground_small)


def _clustered(mask: np.ndarray) -> np.ndarray:
    """Pixels with at least two of 8 neighbours also set: lone scanner specks drop."""
    p = np.pad(mask.view(np.uint8), 1)
    # The 3×3 sums, rows then columns, in place (each full-size temporary costs its page faults).
    rows = p[:-2].copy()
    rows += p[1:-1]
    rows += p[2:]
    n = rows[:, :-2].copy()
    n += rows[:, 1:-1]
    n += rows[:, 2:]
    kept = n.view(bool)  # in place: itself and two neighbours
    np.greater_equal(n, 3, out=kept)
    return np.logical_and(mask, kept, out=kept)


# A cell with at least this share of its pixels kept is its own mean.
FULL_WEIGHT = 0.25


def _fill_level(p: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Mean colours (float, h × w × channels) from premultiplied box means `p` (uint8, colour
    × weight) and weights `w` (uint8, 255 = every pixel kept), thinly covered cells filled
    from a 4× coarser level, recursively (a pyramid fill). A small level: plain numpy."""
    pf = p.astype(np.float32).reshape(w.shape[0], w.shape[1], -1)
    wf = w.astype(np.float32) / 255
    out = pf / np.maximum(wf, 1e-3)[..., None]
    thin = wf < FULL_WEIGHT
    if not thin.any() or min(w.shape) < 2 or not w.any():
        return out
    coarse = _fill_level(_reduce4(p), _reduce4(w))
    ys, xs = np.nonzero(thin)
    c = (FULL_WEIGHT - wf[ys, xs])[:, None]
    cy = np.minimum(ys // 4, coarse.shape[0] - 1)
    cx = np.minimum(xs // 4, coarse.shape[1] - 1)
    out[ys, xs] = (pf[ys, xs] + c * coarse[cy, cx]) / (wf[ys, xs][:, None] + c)
    return out


def _reduce4(a: np.ndarray) -> np.ndarray:
    """Pillow's 4× box reduction of a uint8 array (h × w, or h × w × 2 or 3 as bands)."""
    if a.ndim == 2:
        return np.asarray(Image.fromarray(a, "L").reduce(4))
    bands = [np.asarray(Image.fromarray(np.ascontiguousarray(a[..., i]), "L").reduce(4)) for i in range(a.shape[2])]
    return np.stack(bands, axis=2)


def _fill(p: np.ndarray, w: np.ndarray) -> np.ndarray:
    """_fill_level for a whole background: only the cells that lost pixels (w < 255, a few % of
    the page) are computed, in float; the rest are their own values, as they are (uint8)."""
    partial = np.flatnonzero(w != 255)
    if partial.size == 0:
        return p
    channels = p.reshape(w.size, -1)
    # np.take, not fancy indexing: ~5× faster on rows this short.
    pp = np.take(channels, partial, axis=0).astype(np.float32)
    wf = np.take(w.ravel(), partial).astype(np.float32) / 255
    values = pp / np.maximum(wf, 1e-3)[:, None]
    thin = wf < FULL_WEIGHT
    if thin.any() and min(w.shape) >= 2 and w.any():
        coarse = _fill_level(_reduce4(p), _reduce4(w))
        ys, xs = np.divmod(partial[thin], w.shape[1])
        wt = wf[thin]
        c = (FULL_WEIGHT - wt)[:, None]
        at = np.minimum(ys // 4, coarse.shape[0] - 1) * coarse.shape[1] + np.minimum(xs // 4, coarse.shape[1] - 1)
        values[thin] = (pp[thin] + c * np.take(coarse.reshape(-1, coarse.shape[2]), at, axis=0)) / (wt[:, None] + c)
    out = channels if channels.flags.writeable else channels.copy()  # ours to change: no copy
    out[partial] = np.clip(np.rint(values), 0, 255).astype(np.uint8)
    return out.reshape(p.shape)


def _kept_thirds(g: np.ndarray, keep: np.ndarray, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The box reduction to 2/3 (300 → 200 dpi, the profiles' MRC rungs) of the kept pixels, in
    numpy: ~2× faster than two Pillow resizes. Each 3×3 block of pixels gives 2×2 cells — rows
    (and columns) 0–1 of the block averaged for the first, row 2 for the second, as Pillow's box
    filter samples them. Returns the premultiplied means and weights (uint8, as `_fill` takes
    them) and, per 3×3 block, whether every pixel is kept (for the colour, see _background)."""
    h, w = g.shape
    h3, w3 = -(-h // 3), -(-w // 3)
    kept = np.zeros((h3 * 3, w3 * 3), np.uint8)  # pixels beyond the page count as removed
    kept[:h, :w] = keep
    gk = np.zeros_like(kept)
    np.multiply(g, kept[:h, :w], out=gk[:h, :w])
    gb, kb = gk.reshape(h3, 3, w3, 3), kept.reshape(h3, 3, w3, 3)
    top, bottom = np.add(gb[:, 0], gb[:, 1], dtype=np.uint16), gb[:, 2]
    k_top, k_bottom = kb[:, 0] + kb[:, 1], kb[:, 2]
    p = np.empty((h3 * 2, w3 * 2), np.uint8)
    wt = np.empty_like(p)
    # Rounded means, the sums in place (uint16: four pixels' sum needs 10 bits).
    s = np.add(top[..., 0], top[..., 1])
    s += 2
    s >>= 2
    p[0::2, 0::2] = s
    s = top[..., 2] + np.uint16(1)
    s >>= 1
    p[0::2, 1::2] = s
    s = np.add(bottom[..., 0], bottom[..., 1], dtype=np.uint16)
    s += 1
    s >>= 1
    p[1::2, 0::2] = s
    p[1::2, 1::2] = bottom[..., 2]
    n_left, n_bottom_left = k_top[..., 0] + k_top[..., 1], k_bottom[..., 0] + k_bottom[..., 1]
    # n kept of a cell's 4 (or 2) pixels: weight round(255 n / 4) (or / 2) — in uint8, where
    # 64 n − [n ≥ 3] and 128 n − [n = 2] wrap round to exactly those (a lookup table's fancy
    # indexing is ~5× slower on a million cells).
    wt[0::2, 0::2] = n_left * np.uint8(64) - (n_left >= 3)
    wt[0::2, 1::2] = k_top[..., 2] * np.uint8(128) - (k_top[..., 2] == 2)
    wt[1::2, 0::2] = n_bottom_left * np.uint8(128) - (n_bottom_left == 2)
    wt[1::2, 1::2] = k_bottom[..., 2] * np.uint8(255)
    clean = (n_left + k_top[..., 2] + n_bottom_left + k_bottom[..., 2]) == 9
    return p[: size[1], : size[0]], wt[: size[1], : size[0]], clean


def _background(
    image: Image.Image, grey: Image.Image, g: np.ndarray, keep: np.ndarray, size: tuple[int, int]
) -> Image.Image:
    """The page at `size` with the pixels not in `keep` (bool) replaced by the colour around
    them: L for a grey page; YCbCr for a colour page — JPEG's own space, which keeps the colour
    at half the resolution anyway (4:2:0): only the luma is filled at the background's full
    resolution, from the grey page, and the colour at half of it, from a small reduction."""
    half = (-(-size[0] // 2), -(-size[1] // 2))
    clean: np.ndarray | None = None
    if size == (round(image.width * 2 / 3), round(image.height * 2 / 3)):
        p, w, clean = _kept_thirds(g, keep, size)
    else:
        # Box means of premultiplied luma and of the weight: their ratio is the mean of the kept
        # pixels under each cell (the premultiplication is exact: weights are 0 or 255).
        keep_img = _l_image(keep)
        p = np.asarray(ImageChops.darker(grey, keep_img).resize(size, Image.Resampling.BOX))
        w = np.asarray(keep_img.resize(size, Image.Resampling.BOX))
    luma = Image.fromarray(_fill(p, w), "L")
    if image.mode == "L":
        return luma
    if clean is not None:
        colour = image.reduce(3)  # 3×3 pixels: 2×2 background cells, one chroma sample of JPEG's
    else:
        # An integer reduction to about the chroma's size (Pillow's reduce is ~6× faster than
        # resize), then a small resize to the exact size where they differ.
        f = max(1, int(image.width / half[0] + 0.05))
        keep_img = _l_image(keep)
        colour, kept = (image.reduce(f), keep_img.reduce(f)) if f > 1 else (image, keep_img)
        if colour.size != half:
            colour = colour.resize(half, Image.Resampling.BOX)
            kept = kept.resize(half, Image.Resampling.BOX)
        clean = np.asarray(kept) == 255
    ycc = colour.convert("YCbCr")
    chroma = np.empty((ycc.height, ycc.width, 2), np.uint8)  # by band: ~3× faster than all three
    chroma[..., 0], chroma[..., 1] = np.asarray(ycc.getchannel(1)), np.asarray(ycc.getchannel(2))
    # The chroma is not premultiplied (that would be a pass over the full-size colour page):
    # a cell with any removed pixel counts as empty and takes the colour around it.
    chroma[~clean] = 0
    filled = _fill(chroma, clean.view(np.uint8) * np.uint8(255))
    cb, cr = (Image.fromarray(np.ascontiguousarray(filled[..., i]), "L") for i in (0, 1))
    # Each chroma value twice in each direction: the JPEG encoder's 2×2 average gives it back.
    twice = (half[0] * 2, half[1] * 2)
    cb, cr = (c.resize(twice, Image.Resampling.NEAREST).crop((0, 0, *size)) for c in (cb, cr))
    return Image.merge("YCbCr", (luma, cb, cr))


def _fill_small(values: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """A pyramid fill for small numpy arrays (sums, not means): empty cells from a 4× coarser level."""
    h, w = weight.shape
    has = weight > 0
    if has.all() or min(h, w) < 2 or not has.any():
        return values / np.maximum(weight, 1e-6)[..., None]
    # The coarser level's sums over the cells that have values only (few: the text's), by bincount.
    at = np.flatnonzero(has)
    ys, xs = np.divmod(at, w)
    hc, wc = -(-h // 4), -(-w // 4)
    cells = (ys // 4) * wc + xs // 4
    own_w = np.take(weight, at)
    own = np.take(values.reshape(h * w, -1), at, axis=0)
    coarse_w = np.bincount(cells, own_w, minlength=hc * wc).reshape(hc, wc).astype(weight.dtype)
    coarse_v = np.stack([np.bincount(cells, own[:, c], minlength=hc * wc) for c in range(own.shape[1])], axis=1)
    coarse = _fill_small(coarse_v.reshape(hc, wc, -1).astype(values.dtype), coarse_w)
    # The coarse level everywhere, then the cells that have values of their own (few: the text's).
    out = np.repeat(np.repeat(coarse, 4, axis=0), 4, axis=1)[:h, :w]
    out[has] = own / own_w[:, None]
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


def _foreground(image: Image.Image, text: np.ndarray, ground_small: np.ndarray, dpi: float) -> tuple[Image.Image, bool]:
    """The text's colour at FOREGROUND_DPI, weighted by contrast² (the distance from the
    ground) so a stroke's core counts more than its anti-aliased rim, holes filled from around;
    and whether one colour is all (then a 1×1 image of it). Summed over the text pixels only
    (a few % of the page)."""
    b = max(1, round(dpi / FOREGROUND_DPI))
    gh, gw = -(-image.height // b), -(-image.width // b)
    at = np.flatnonzero(text)
    ys, xs = np.divmod(at, image.width)
    pixels = np.take(np.asarray(image).reshape(text.size, -1), at, axis=0)  # ~5× faster than [at]
    if pixels.shape[1] == 3:  # the grey level, as Pillow's convert("L") computes it (ITU-R 601)
        rgb = pixels.astype(np.int32)
        grey = (rgb[:, 0] * 19595 + rgb[:, 1] * 38470 + rgb[:, 2] * 7471 + 0x8000) >> 16
    else:
        grey = pixels[:, 0].astype(np.int32)
    ground = np.take(ground_small, (ys // MAP_STEP) * ground_small.shape[1] + xs // MAP_STEP)
    d = np.abs(grey - ground).astype(np.float32)
    w = d * d
    pixels = pixels.astype(np.float32)
    cell = (ys // b) * gw + xs // b
    sw = np.bincount(cell, w, minlength=gh * gw).reshape(gh, gw)
    sv = np.stack([np.bincount(cell, w * pixels[:, c], minlength=gh * gw) for c in range(pixels.shape[1])], axis=1)
    has = sw > 0
    # float32 from here: the fill below touches every cell of the 50 dpi grid.
    mean = (sv.reshape(gh, gw, -1) / np.maximum(sw, 1e-6)[..., None]).astype(np.float32)
    colours = _fill_small(mean * has[..., None], has.astype(np.float32))
    # One colour or several, judged on cells with real ink: a cell holding only the pale rim of
    # a thin stroke says little about the ink's colour.
    used = colours[sw >= 0.25 * np.median(sw[has])] if has.any() else colours[has]
    median = np.median(used, axis=0) if used.size else np.zeros(colours.shape[2])
    mode = "L" if image.mode == "L" else "RGB"
    if _one_ink(used):
        colour = tuple(int(v) for v in np.clip(np.rint(median), 0, 255))
        return Image.new(mode, (1, 1), colour if mode == "RGB" else colour[0]), True
    arr = np.clip(np.rint(colours), 0, 255).astype(np.uint8)
    return Image.fromarray(arr[..., 0] if mode == "L" else arr, mode), False


def segment(image: Image.Image, dpi: float, background_dpi: float) -> Layers | None:
    """Split a page (RGB or L, at `dpi`) into MRC layers; None when it carries no text to
    separate (then the page keeps its other rungs)."""
    grey = image.convert("L") if image.mode != "L" else image
    g = np.asarray(grey)  # once: a full-size copy
    text, ground_small = _text_mask(grey, g, dpi)
    count = int(np.count_nonzero(text))
    fraction = count / (image.width * image.height)
    if fraction < MIN_TEXT_FRACTION:
        return None
    fg, one = _foreground(image, text, ground_small, dpi)
    bg_dpi = min(background_dpi, dpi)
    size = (max(1, round(image.width * bg_dpi / dpi)), max(1, round(image.height * bg_dpi / dpi)))
    # The anti-aliased rim of each stroke goes with the text: left in the background it
    # would draw a halo, and cost the JPEG the edges MRC takes out.
    keep = _dilate(text)
    background = _background(image, grey, g, np.logical_not(keep, out=keep), size)
    mask = Image.fromarray(~text)  # mode "1": text = 0
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
    packed = np.packbits(np.asarray(mask), axis=1).tobytes()  # 1 = paper, 0 = text (mask.tobytes() is 4× slower)
    # Flate at level 9 costs ~1.5× the rest of this function and on text masks is 1.5–2.2×
    # G4's bytes; level 1 is ten times cheaper and never more than twice level 9 (0.53–0.77 on
    # the generated bundles' masks): where it is already twice G4, level 9 cannot win.
    flate = zlib.compress(packed, 1)
    if len(flate) < 2 * len(g4):
        flate = zlib.compress(packed, 9)
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

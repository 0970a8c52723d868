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

Next to classify: it imports Pillow, numpy, pikepdf, ccitt (G4 by libtiff) and jpeg_planes.
"""

from __future__ import annotations

import io
import struct
import zlib
from dataclasses import dataclass, field

import numpy as np
import pikepdf
from PIL import Image, ImageChops, ImageFilter
from zlib_ng import zlib_ng

from packager import ccitt
from packager.jpeg_planes import thirds_sums, two_thirds

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
    the text is one colour (`colour`). mask_rows: the mask's rows packed 8 pixels a byte, 1 =
    paper (what a Flate stream holds), kept from segmenting; empty: packed from `mask` when
    needed."""

    mask: Image.Image
    mask_dpi: float
    background: Image.Image
    background_dpi: float
    foreground: Image.Image | None
    colour: tuple[int, ...]
    text_fraction: float
    mask_rows: bytes = field(default=b"", repr=False, compare=False)


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


def _l_image(mask: np.ndarray) -> Image.Image:
    """A bool array as an L image, 255 where set (for Pillow's C reductions)."""
    return Image.fromarray(mask.view(np.uint8) * np.uint8(255), "L")


# --- bit planes: 64 pixels of a row in one uint64 word (pixel x at bit x % 64 of word x // 64,
# zeros beyond the row); a 3×3 neighbourhood is then a few dozen word operations on 1/64 of
# the pixels: ~3× faster than the same sums over one byte per pixel.
_ONE, _TOP = np.uint64(1), np.uint64(63)


def _pack(mask: np.ndarray, words: int) -> np.ndarray:
    """A bool array as bit-plane rows of `words` words each."""
    h, w = mask.shape
    out = np.zeros((h, words * 8), np.uint8)
    out[:, : -(-w // 8)] = np.packbits(mask, axis=1, bitorder="little")
    return out.view("<u8")


def _unpack(plane: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Bit-plane rows back to a bool array of `shape` (rows beyond the plane's are False).
    Unpacked straight into the result: a copy would be one more full-size array."""
    if shape[0] > plane.shape[0]:
        plane = np.concatenate([plane, np.zeros((shape[0] - plane.shape[0], plane.shape[1]), plane.dtype)])
    bits = plane[: shape[0]].view(np.uint8)
    return np.unpackbits(bits, axis=1, count=shape[1], bitorder="little").view(bool)


def _from_left(x: np.ndarray) -> np.ndarray:
    """Each pixel's left neighbour (0 at the row's start)."""
    out = x << _ONE
    out[:, 1:] |= x[:, :-1] >> _TOP
    return out


def _from_right(x: np.ndarray) -> np.ndarray:
    """Each pixel's right neighbour (0 beyond the row's end)."""
    out = x >> _ONE
    out[:, :-1] |= x[:, 1:] << _TOP
    return out


def _above_below(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each pixel's neighbour above and below (0 beyond the page)."""
    up, down = np.zeros_like(x), np.zeros_like(x)
    up[1:], down[:-1] = x[:-1], x[1:]
    return up, down


def _clustered(x: np.ndarray) -> np.ndarray:
    """Set pixels of a bit plane with at least two of 8 neighbours also set: lone scanner specks
    drop. The 3×3 count (itself included) must be ≥ 3; it is summed bit-sliced: each column's
    three pixels as a 2-bit number (s1 s0), then the three columns — the count is ≤ 2 when no
    column has two or more (all s1 = 0) and not all three have one, or exactly one column has
    two or more and no other column has one."""
    up, down = _above_below(x)
    s0 = up ^ x ^ down
    s1 = (up & x) | (down & (up ^ x))
    l0, r0, l1, r1 = _from_left(s0), _from_right(s0), _from_left(s1), _from_right(s1)
    one_two = (l1 ^ s1 ^ r1) & ~(l1 & s1 & r1)
    at_most_two = (~(l1 | s1 | r1) & ~(l0 & s0 & r0)) | (one_two & ~(l0 | s0 | r0))
    return x & ~at_most_two


def _dilate(x: np.ndarray) -> np.ndarray:
    """3×3 dilation of a bit plane."""
    up, down = _above_below(x)
    v = up | x | down
    return v | _from_left(v) | _from_right(v)


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


def _rows(small: np.ndarray, step: int, width: int) -> np.ndarray:
    """Each value of a per-block map repeated `step` times along its row, cropped to `width`:
    one row of the map per band of `step` pixel rows (see _by_bands)."""
    return np.repeat(small, step, axis=1)[:, :width]


def _by_bands(op: np.ufunc, full: np.ndarray, rows: np.ndarray, step: int, out: np.ndarray) -> np.ndarray:
    """op(full, rows spread over `step` pixel rows each) into `out`, without making the
    full-size map: numpy broadcasts each map row over its band (a full-size map costs
    ~3× the comparison itself). The last band may be shorter."""
    n = full.shape[0] // step
    if n:
        op(full[: n * step].reshape(n, step, -1), rows[:n, None], out=out[: n * step].reshape(n, step, -1))
    if n * step < full.shape[0]:
        op(full[n * step :], rows[n], out=out[n * step :])
    return out


def _runs(flags: np.ndarray) -> list[tuple[int, int]]:
    """The [start, stop) runs of True in a 1-d bool array."""
    edges = np.flatnonzero(np.diff(np.concatenate(([False], flags, [False])).astype(np.int8)))
    return list(zip(edges[0::2].tolist(), edges[1::2].tolist(), strict=True))


# Map rows compared at a time by _in_bands: its scratch stays ~0.6 MB (a full-size one would
# cost its page faults, ~1 ms per 9 MB, outside the build's workers).
_CHUNK = 64


def _in_bands(op: np.ufunc, full: np.ndarray, small: np.ndarray, step: int, out: np.ndarray, rows: np.ndarray) -> None:
    """out |= op(full, `small` spread over step × step pixels), only in the bands of map rows
    flagged in `rows` (elsewhere the map cannot change `out`: the work a dark photo strip or a
    tinted box needs, not the page's), a few bands at a time."""
    width = full.shape[1]
    scratch = np.empty(min(_CHUNK * step, full.shape[0]) * width, bool)
    for a, b in _runs(rows):
        for c in range(a, b, _CHUNK):
            d = min(c + _CHUNK, b)
            band = slice(c * step, min(d * step, full.shape[0]))
            part = full[band]
            into = scratch[: part.size].reshape(part.shape)
            out[band] |= _by_bands(op, part, _rows(small[c:d], step, width), step, into)


# A pixel further than this from its ground is neither ground nor (if not text) ink: "in between".
MID_DISTANCE = 14


def _text_mask(grey: Image.Image, g: np.ndarray, dpi: float) -> tuple[np.ndarray, np.ndarray]:
    """Text pixels (bool), and the ground at 1/MAP_STEP of the resolution (uint8).

    The thresholds depend only on the ground, so they are computed per block and enlarged
    (Pillow, in C) to a quarter of the page; the full-resolution work is a handful of
    comparisons against them, each value over 4×4 pixels."""
    ground = _ground(grey, dpi).astype(np.int16)
    ink = _percentile(grey.reduce(4), 1)  # the darkest ink on the page
    contrast = np.maximum(MIN_CONTRAST, CONTRAST_SHARE * np.maximum(ground - ink, 0))
    small = (-(-grey.width // MAP_STEP), -(-grey.height // MAP_STEP))
    width = g.shape[1]
    # Thresholds enlarged bilinearly, not block by block: a step at a block edge next to a photo
    # or a tint would turn a line of paper pixels into "light text" (a white seam in the mask).
    dark = _rows(np.asarray(_smooth(ground - contrast, small)), MAP_STEP, width)
    text = _by_bands(np.less, g, dark, MAP_STEP, np.empty(g.shape, bool))
    ground_small = _smooth(ground, small)
    scratch = np.empty(g.shape, bool)
    if ground.min() < DARK_GROUND:  # inverted text is looked for only on a dark ground
        # From the enlarged ground through a table, not an enlarged threshold map: between a dark
        # tint or photo and the paper the map's threshold would fall below the paper (a bar of
        # paper pixels called "light text" along the photo's edge); the table keeps 255 there.
        light = np.asarray(ground_small.point(_light_above(ground, contrast)))
        _in_bands(np.greater, g, light, MAP_STEP, text, (light < 255).any(axis=1))
    # Photo blocks (~2 mm): many in-between pixels (neither ground nor ink) per ink pixel,
    # counted by Pillow's reduce (the block mean) on 0/255 images. |g − ground| > MID_DISTANCE
    # as two comparisons against the ground ± MID_DISTANCE (uint8, saturated: 0 and 255 are
    # never passed); in place where it can be — each new full-size array costs its page faults.
    near = np.asarray(ground_small, dtype=np.int16)
    below, above = (np.clip(near + d, 0, 255).astype(np.uint8) for d in (-MID_DISTANCE, MID_DISTANCE))
    mid = _by_bands(np.less, g, _rows(below, MAP_STEP, width), MAP_STEP, scratch)
    _in_bands(np.greater, g, above, MAP_STEP, mid, np.ones(above.shape[0], bool))
    np.greater(mid, text, out=mid)  # and not text
    mid_255 = mid.view(np.uint8)
    np.multiply(mid_255, np.uint8(255), out=mid_255)
    b = max(2, round(dpi / 12))
    n_mid = np.asarray(Image.fromarray(mid_255, "L").reduce(b), dtype=np.float32)
    np.multiply(text.view(np.uint8), np.uint8(255), out=mid_255)  # the same buffer, now the ink
    n_ink = np.asarray(Image.fromarray(mid_255, "L").reduce(b), dtype=np.float32)
    photo = n_mid > PHOTO_MID_RATIO * n_ink + 255 / 16
    if photo.any():
        photo = np.asarray(_l_image(photo).filter(ImageFilter.MaxFilter(3))) == 0  # not photo
        # Each flag over its block: columns by repeating, rows by broadcasting.
        by = -(-g.shape[0] // photo.shape[0])
        bx = -(-width // photo.shape[1])
        for a, b in _runs(~photo.all(axis=1)):  # only the bands that hold a photo block
            band = text[a * by : b * by]
            _by_bands(np.logical_and, band, _rows(photo[a:b], bx, width), by, band)
    return text, np.asarray(ground_small)


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
    if wf.min() < FULL_WEIGHT and min(w.shape) >= 2 and w.any():
        coarse = _fill_level(_reduce4(p), _reduce4(w))
        ys, xs = np.divmod(partial, w.shape[1])
        at = np.minimum(ys // 4, coarse.shape[0] - 1) * coarse.shape[1] + np.minimum(xs // 4, coarse.shape[1] - 1)
        # Every partial cell at once: a cell with FULL_WEIGHT or more has c = 0, its own mean.
        c = np.maximum(FULL_WEIGHT - wf, 0)[:, None]
        values = (pp + c * np.take(coarse.reshape(-1, coarse.shape[2]), at, axis=0)) / (wf[:, None] + c)
    else:
        values = pp / np.maximum(wf, 1e-3)[:, None]
    out = channels if channels.flags.writeable else channels.copy()  # ours to change: no copy
    out[partial] = np.clip(np.rint(values), 0, 255).astype(np.uint8)
    return out.reshape(p.shape)


def _kept_thirds(g: np.ndarray, keep: np.ndarray, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The box reduction to 2/3 (300 → 200 dpi, the profiles' MRC rungs) of the kept pixels, in
    numpy: ~2× faster than two Pillow resizes. Each 3×3 block of pixels gives 2×2 cells — rows
    (and columns) 0–1 of the block averaged for the first, row 2 for the second, as Pillow's box
    filter samples them. Returns the premultiplied means and weights (uint8, as `_fill` takes
    them) and, per 3×3 block, whether every pixel is kept (for the colour, see _background).

    `keep` (bool) is the page's size or already padded to whole blocks (with False)."""
    h, w = g.shape
    h3, w3 = -(-h // 3), -(-w // 3)
    kept = keep.view(np.uint8)
    if keep.shape != (h3 * 3, w3 * 3):
        kept = np.zeros((h3 * 3, w3 * 3), np.uint8)  # pixels beyond the page count as removed
        kept[:h, :w] = keep
    # Each pixel as one uint16, so that one sum gives both: its level if kept in bits 0–11 (four
    # pixels' sum needs 10), and 1 << 12 if kept (a count of up to four, bits 12–14).
    v = np.zeros(kept.shape, np.uint16)
    np.add(g, np.uint16(1 << 12), out=v[:h, :w], dtype=np.uint16)
    v *= kept
    # Every cell's sum is that of four pixels (a one-pixel column or row counted twice): one
    # rounding and one weight rule for all cells.
    x, by_cols = thirds_sums(v)
    # Per 3×3 block, whether all four cells are whole (x ≥ 4 << 12): the 2×2 flags as bytes,
    # a row's pair read as one uint16 (0x0101: both), the block's two rows ANDed.
    whole = (x >= 4 << 12).view(np.uint8).view(np.uint16).reshape(h3, 2, w3)
    clean = (whole[:, 0] & whole[:, 1]) == 0x0101
    # The weight: kept of four, round(255 n / 4) = (255 n + 2) >> 2; the level: the rounded mean.
    # Both straight into uint8 (by_cols' memory serves as the scratch of uint16 sums).
    x, n = x[: size[1], : size[0]], by_cols.ravel()[: size[1] * size[0]].reshape(size[1], size[0])
    np.right_shift(x, 12, out=n)
    n *= 255
    n += 2
    wt = np.empty((size[1], size[0]), np.uint8)
    np.right_shift(n, 2, out=wt, casting="unsafe")
    x &= np.uint16(0xFFF)
    x += 2
    level = np.empty_like(wt)
    np.right_shift(x, 2, out=level, casting="unsafe")
    return level, wt, clean


def _background(
    image: Image.Image,
    grey: Image.Image,
    g: np.ndarray,
    keep_plane: np.ndarray,
    size: tuple[int, int],
    chroma: tuple[np.ndarray, np.ndarray] | None = None,
) -> Image.Image:
    """The page at `size` with the pixels not in `keep_plane` (a bit plane) replaced by the colour around
    them: L for a grey page; YCbCr for a colour page — JPEG's own space, which keeps the colour
    at half the resolution anyway (4:2:0): only the luma is filled at the background's full
    resolution, from the grey page, and the colour at half of it, from a small reduction (of
    the page's own Cb and Cr where it came as a JPEG's planes: `chroma`)."""
    half = (-(-size[0] // 2), -(-size[1] // 2))
    clean: np.ndarray | None = None
    if size == (round(image.width * 2 / 3), round(image.height * 2 / 3)):
        padded = (-(-g.shape[0] // 3) * 3, -(-g.shape[1] // 3) * 3)
        p, w, clean = _kept_thirds(g, _unpack(keep_plane, padded), size)
    else:
        keep = _unpack(keep_plane, g.shape)
        # Box means of premultiplied luma and of the weight: their ratio is the mean of the kept
        # pixels under each cell (the premultiplication is exact: weights are 0 or 255).
        keep_img = _l_image(keep)
        p = np.asarray(ImageChops.darker(grey, keep_img).resize(size, Image.Resampling.BOX))
        w = np.asarray(keep_img.resize(size, Image.Resampling.BOX))
    luma = Image.fromarray(_fill(p, w), "L")
    if image.mode == "L" and chroma is None:
        return luma
    if chroma is not None:
        if clean is None:
            clean = _kept_at(_unpack(keep_plane, g.shape), half)
        colours = _chroma_at(chroma, g.shape, half)
    elif clean is not None:
        colours = _ycc_chroma(image.reduce(3))  # 3×3 pixels: 2×2 background cells, one chroma sample of JPEG's
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
        colours = _ycc_chroma(colour)
    # The chroma is not premultiplied (that would be a pass over the full-size colour page):
    # a cell with any removed pixel counts as empty and takes the colour around it.
    # (Both bytes of a cell at once, as one uint16: broadcasting over the pair is ~25× slower.)
    pairs = colours.view(np.uint16).reshape(clean.shape)
    np.multiply(pairs, clean, out=pairs)
    filled = _fill(colours, clean.view(np.uint8) * np.uint8(255))
    cb, cr = (Image.fromarray(np.ascontiguousarray(filled[..., i]), "L") for i in (0, 1))
    # Each chroma value twice in each direction (the box: half the size, not rounded up), cropped
    # to the page: the JPEG encoder's 2×2 average gives it back.
    box = (0.0, 0.0, size[0] / 2, size[1] / 2)
    cb, cr = (c.resize(size, Image.Resampling.NEAREST, box=box) for c in (cb, cr))
    return Image.merge("YCbCr", (luma, cb, cr))


def _ycc_chroma(colour: Image.Image) -> np.ndarray:
    """Cb and Cr of a small RGB image (h × w × 2, uint8)."""
    ycc = colour.convert("YCbCr")
    chroma = np.empty((ycc.height, ycc.width, 2), np.uint8)  # by band: ~3× faster than all three
    chroma[..., 0], chroma[..., 1] = np.asarray(ycc.getchannel(1)), np.asarray(ycc.getchannel(2))
    return chroma


def _kept_at(keep: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Whether every pixel under each cell of a grid of `size` is kept (Pillow's box reductions)."""
    kept = _l_image(keep)
    f = max(1, int(keep.shape[1] / size[0] + 0.05))
    if f > 1:
        kept = kept.reduce(f)
    if kept.size != size:
        kept = kept.resize(size, Image.Resampling.BOX)
    return np.asarray(kept) == 255


def _chroma_at(chroma: tuple[np.ndarray, np.ndarray], shape: tuple[int, int], size: tuple[int, int]) -> np.ndarray:
    """A JPEG's Cb and Cr planes (at its chroma subsampling of a page of `shape`) reduced to a
    grid of `size` (h × w × 2, uint8). 4:2:0 to a third of the page (the profiles' 300 → 200 dpi
    background's chroma) is a 2/3 reduction in numpy; anything else Pillow's box filter."""
    out = np.empty((size[1], size[0], 2), np.uint8)
    for i, plane in enumerate(chroma):
        if plane.shape == (-(-shape[0] // 2), -(-shape[1] // 2)) and size == (-(-shape[1] // 3), -(-shape[0] // 3)):
            out[..., i] = two_thirds(plane)[: size[1], : size[0]]
            continue
        image = Image.fromarray(plane, "L")
        f = max(1, int(image.width / size[0] + 0.05))
        reduced = image.reduce(f) if f > 1 else image
        out[..., i] = np.asarray(reduced if reduced.size == size else reduced.resize(size, Image.Resampling.BOX))
    return out


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


def _rgb_at(
    luma: np.ndarray, chroma: tuple[np.ndarray, np.ndarray], ys: np.ndarray, xs: np.ndarray, shape: tuple[int, int]
) -> np.ndarray:
    """RGB (n × 3, float32, 0–255 as a decoder rounds it) of the pixels at (ys, xs) of a page of
    `shape` that came as a JPEG's planes: their luma, and Cb and Cr from the samples over them
    (JFIF's conversion, as libjpeg's)."""
    yf = luma.astype(np.float32)
    c = []
    for plane in chroma:
        (ph, pw), sy, sx = plane.shape, round(shape[0] / plane.shape[0]), round(shape[1] / plane.shape[1])
        at = np.minimum(ys // sy, ph - 1) * pw + np.minimum(xs // sx, pw - 1)
        c.append(np.take(plane, at).astype(np.float32) - 128)
    cb, cr = c
    rgb = np.stack([yf + 1.402 * cr, yf - 0.344136 * cb - 0.714136 * cr, yf + 1.772 * cb], axis=1)
    return np.clip(np.rint(rgb), 0, 255, out=rgb)


def _foreground(
    image: Image.Image,
    g: np.ndarray,
    text: np.ndarray,
    ground_small: np.ndarray,
    dpi: float,
    chroma: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[Image.Image, bool]:
    """The text's colour at FOREGROUND_DPI, weighted by contrast² (the distance from the
    ground) so a stroke's core counts more than its anti-aliased rim, holes filled from around;
    and whether one colour is all (then a 1×1 image of it). Summed over the text pixels only
    (a few % of the page)."""
    b = max(1, round(dpi / FOREGROUND_DPI))
    gh, gw = -(-image.height // b), -(-image.width // b)
    at = np.flatnonzero(text)
    ys, xs = np.divmod(at, image.width)
    luma = np.take(g, at)  # g: the page as Pillow's convert("L") made it, or the JPEG's luma
    grey = luma.astype(np.int32)
    if chroma is not None:
        pixels = _rgb_at(luma, chroma, ys, xs, g.shape)
    else:
        colour = np.asarray(image) if image.mode != "L" else g
        pixels = np.take(colour.reshape(text.size, -1), at, axis=0)  # ~5× faster than [at]
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
    mode = "L" if image.mode == "L" and chroma is None else "RGB"
    if _one_ink(used):
        colour = tuple(int(v) for v in np.clip(np.rint(median), 0, 255))
        return Image.new(mode, (1, 1), colour if mode == "RGB" else colour[0]), True
    arr = np.clip(np.rint(colours), 0, 255).astype(np.uint8)
    return Image.fromarray(arr[..., 0] if mode == "L" else arr, mode), False


def segment(
    image: Image.Image,
    dpi: float,
    background_dpi: float,
    planes: tuple[np.ndarray, ...] | None = None,
) -> Layers | None:
    """Split a page (RGB or L, at `dpi`) into MRC layers; None when it carries no text to
    separate (then the page keeps its other rungs).

    `planes`: the page's Y, Cb and Cr (uint8 arrays) as its JPEG decoder hands them over — Y at
    the page's size (or padded to the chroma's subsampling), Cb and Cr at their subsampling —
    where it was decoded so (pages.LoadedPage.planes: read in place, not copied).
    Their pixels are then used instead of `image`'s: the luma is the grey page (Pillow's grey
    conversion of the RGB to ±1 level), the background's colour is a reduction of the chroma
    planes, the text's colour is converted at the text pixels only — no pass over the full-size
    RGB at all (~14 ms of an A4 page's ~80)."""
    chroma = None
    if planes is not None:
        g, chroma = planes[0], (planes[1], planes[2])
        pad = (g.shape[1] - image.width, g.shape[0] - image.height)
        if g.dtype != np.uint8 or not (0 <= pad[0] < 8 and 0 <= pad[1] < 8):
            raise ValueError(f"planes of {g.shape[::-1]} for a page of {image.size}")
        if pad != (0, 0):  # libjpeg pads the luma plane to the chroma's subsampling
            g = np.ascontiguousarray(g[: image.height, : image.width])
        grey = Image.fromarray(g, "L")  # the same memory
    else:
        grey = image.convert("L") if image.mode != "L" else image
        g = np.asarray(grey)  # once: a full-size copy
    found, ground_small = _text_mask(grey, g, dpi)
    # As bit planes, with room for the two columns the 2/3 reduction pads a row with.
    words = -(-(g.shape[1] + 2) // 64)
    plane = _clustered(_pack(found, words))
    text = _unpack(plane, g.shape)
    count = int(np.count_nonzero(text))
    fraction = count / (image.width * image.height)
    if fraction < MIN_TEXT_FRACTION:
        return None
    fg, one = _foreground(image, g, text, ground_small, dpi, chroma)
    bg_dpi = min(background_dpi, dpi)
    size = (max(1, round(image.width * bg_dpi / dpi)), max(1, round(image.height * bg_dpi / dpi)))
    # The anti-aliased rim of each stroke goes with the text: left in the background it
    # would draw a halo, and cost the JPEG the edges MRC takes out.
    keep = ~_dilate(plane) & _pack(np.ones((1, g.shape[1]), bool), words)  # none beyond the page
    background = _background(image, grey, g, keep, size, chroma)
    paper = np.logical_not(text, out=text)  # text is not needed any more
    mask = Image.fromarray(paper)  # mode "1": text = 0
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
        mask_rows=np.packbits(paper, axis=1).tobytes(),
    )


# --- PDF ------------------------------------------------------------------------------------


def _tiff_tags(data: bytes) -> dict[int, int]:
    """The first IFD's single-valued SHORT and LONG tags of a TIFF (what Pillow's writer made of
    one strip): reading them here costs ~1/50 of opening the file again with Pillow."""
    order = "<" if data[:2] == b"II" else ">"
    (ifd,) = struct.unpack_from(order + "I", data, 4)
    (n,) = struct.unpack_from(order + "H", data, ifd)
    tags = {}
    for i in range(n):
        tag, kind, count = struct.unpack_from(order + "HHI", data, ifd + 2 + 12 * i)
        if count == 1 and kind in (3, 4):  # SHORT, LONG
            (tags[tag],) = struct.unpack_from(order + ("H" if kind == 3 else "I"), data, ifd + 10 + 12 * i)
    return tags


def _g4_tiff(mask: Image.Image, packed: bytes) -> bytes:
    """The mask as a one-strip G4 TIFF: from its packed rows by libtiff (ccitt.py: ~5× faster,
    and smaller, written ink = 1 as fax pages are), else by Pillow."""
    ink = (np.frombuffer(packed, np.uint8) ^ np.uint8(255)).tobytes()  # packed rows hold paper = 1
    data = ccitt.tiff(ink, mask.width, mask.height)
    if data is None:
        buf = io.BytesIO()
        mask.save(buf, "TIFF", compression="group4", tiffinfo={278: mask.height})
        data = buf.getvalue()
    return data


def _mask_stream(pdf: pikepdf.Pdf, mask: Image.Image, packed: bytes = b"") -> pikepdf.Stream:
    """The mask as an /ImageMask (sample 0 = text = painted): CCITT G4 or Flate, the smaller."""
    if not packed:
        packed = np.packbits(np.asarray(mask), axis=1).tobytes()  # 1 = paper, 0 = text (mask.tobytes() is 4× slower)
    data = _g4_tiff(mask, packed)
    tags = _tiff_tags(data)
    offset, count = tags[273], tags[279]
    # BlackIs1: whether the G4 stream's black is the TIFF's 1 (Pillow writes paper = 1 MinIsBlack,
    # ccitt ink = 1 MinIsWhite): either way the text decodes as the 0 an /ImageMask paints.
    black_is_1 = tags.get(262, 0) == 1
    g4 = data[offset : offset + count]
    # Flate at level 9 costs ~1.5× the rest of this function and on text masks is 1.5–2.2×
    # G4's bytes; level 1 is ten times cheaper and never more than twice level 9 (0.53–0.77 on
    # the generated bundles' masks): where it is already twice G4, level 9 cannot win. zlib-ng's
    # level 1 is ~5× cheaper again and 1.7–3.0× zlib's level 9 (the same masks; G4 by libtiff):
    # where it is three times G4, neither zlib level is tried.
    flate, use_g4 = b"", True
    if len(zlib_ng.compress(packed, 1)) < 3 * len(g4):
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
    mask = pdf.make_indirect(_mask_stream(pdf, layers.mask, layers.mask_rows))
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

"""Classify a page: blank, bilevel text, greyscale, or colour — and reduce bilevel pages.

Measured on a ~100 dpi thumbnail, so the cost is small next to decoding. The rules are
conservative in the direction that loses nothing: a page with any content is never
blank, and a page with faint strokes, photos or chroma that matters is never bilevel.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageChops, ImageFilter

from packager.model import PageClass

THUMB_DPI = 100
# Blank detection looks closer, at ~150 dpi: a single 7 pt character must keep a page.
BLANK_DPI = 150
CLASSIFY_DPI = BLANK_DPI  # the most resolution classify_page uses: a caller may decode at this
# rough_class's view: libjpeg's 1/8-scale decode of a 300 dpi scan.
ROUGH_DPI = 37.5
# A pixel is content when it is this much darker than the paper (0–255 scale). The
# thumbnail is a box average, which dilutes single-pixel scanner specks below this.
CONTENT_DELTA = 22
# On that view, content is this much darker than the paper around it: show-through of the
# front side (~5% ≈ 13 levels) stays blank, a light pencil mark (≥ 12% ≈ 30 levels) does not.
BLANK_DELTA = 16
# Blank: fewer clustered content pixels than this on the 150 dpi view (≈ 0.3 mm², less
# than one small character). Clustered = at least 2 of 8 neighbours agree, so sensor
# noise and lone specks do not count; dust that does count keeps a page, the safe side.
BLANK_MAX_PIXELS = 8
# Chroma (max−min of R,G,B) that counts as colour, and how much of the page it must cover
# (a red 15 mm seal's strokes on A4 cover ~0.1%).
CHROMA_MIN = 55
COLOUR_MIN_FRACTION = 0.0003
# Midtone areas that survive erosion are photos, gradients, halftone or faint stamps:
# not bilevel material (bilevel must not wipe them out).
GREY_MIN_FRACTION = 0.004
# How far below the paper level a pixel still counts as paper when grey levels are kept.
PAPER_NOISE = 8
# Sixteen grey levels pay where four levels' edge levels (1–2) hold more pixels than its ink
# level (0) times this: thin strokes (thin_strokes says what was measured).
THIN_STROKE_EDGE_RATIO = 1.0


def thumbnail(image: Image.Image, dpi: float) -> Image.Image:
    """The page at ~THUMB_DPI: an integer box reduction, or a box resize where the ratio is
    not near an integer (150 dpi → 100, not 75: the fractions below are per-pixel measures).
    A resize by more than 2 first reduces by the ratio's integer part (Pillow's reducing_gap):
    a 12 MP phone photo at 363 dpi, 40 → 11 ms, the thumbnail within a level or two of the
    exact box average."""
    factor = thumbnail_reduction(dpi)
    if factor is not None:
        return image.reduce(factor)
    ratio = dpi / THUMB_DPI
    if ratio <= 1.1:
        return image
    size = (max(1, round(image.width / ratio)), max(1, round(image.height / ratio)))
    return image.resize(size, Image.Resampling.BOX, reducing_gap=1.0 if ratio > 2 else None)


def hist_percentile(hist: np.ndarray, q: float) -> float:
    """Percentile of 8-bit values from their histogram (no sort of millions of pixels)."""
    cdf = np.cumsum(hist)
    if cdf[-1] == 0:
        return 255.0
    return float(np.searchsorted(cdf, cdf[-1] * q / 100.0))


def paper_level(grey: Image.Image) -> float:
    """The paper's brightness: a high percentile, since paper covers most of a page."""
    return hist_percentile(np.asarray(grey.histogram()), 90)  # Pillow's histogram, in C


def clustered(mask: np.ndarray) -> np.ndarray:
    """Pixels of `mask` with at least two 8-neighbours also in it (isolated specks drop)."""
    if not mask.any():  # most pages have no chroma at all: nothing to count
        return mask.copy()
    m = mask.view(np.uint8)
    padded = np.pad(m, 1)
    # The 3×3 sums, separably (rows, then columns: four additions, not eight), less the pixel.
    rows = padded[:, :-2] + padded[:, 1:-1] + padded[:, 2:]
    box = rows[:-2] + rows[1:-1] + rows[2:]
    return mask & (box >= m + 2)


def _below(t: float) -> int:
    """For integer pixels, `v < t` is `v < _below(t)`: comparing int16 to an int is several
    times faster than numpy's cast of every pixel to float64 for a float threshold."""
    return math.ceil(t)


def _above(t: float) -> int:
    """For integer pixels, `v > t` is `v > _above(t)` (see _below)."""
    return math.floor(t)


def _is_blank(image: Image.Image, dpi: float) -> bool:
    factor = max(1, int(dpi / BLANK_DPI + 0.01))  # 299.99 dpi is 300: a 2× reduction
    view = image.reduce(factor) if factor > 1 else image
    grey_img = view.convert("L")
    grey = np.asarray(grey_img, dtype=np.int32)
    content = clustered(grey < _local_paper(grey_img) - BLANK_DELTA)
    if view.mode == "RGB":
        r, g, b = view.split()
        hi = ImageChops.lighter(ImageChops.lighter(r, g), b)
        lo = ImageChops.darker(ImageChops.darker(r, g), b)
        content |= clustered(np.asarray(ImageChops.subtract(hi, lo)) > CHROMA_MIN)
    return int(np.count_nonzero(content)) < BLANK_MAX_PIXELS


def _local_paper(grey: Image.Image) -> np.ndarray:
    """The paper's brightness around each pixel: the brightest block mean nearby.

    Scanner shading darkens the edges of a sheet by ~5%, so one page-wide paper level
    would hide a faint mark near an edge (measured: a 14 px character at 14% contrast).
    """
    block = max(1, min(16, grey.width, grey.height))
    means = grey.reduce(block).filter(ImageFilter.MaxFilter(3))
    return np.asarray(means.resize(grey.size, Image.Resampling.BILINEAR), dtype=np.int32)


def _erode(mask: np.ndarray) -> np.ndarray:
    """3×3 erosion: a pixel stays only if its 4-neighbours are set too (thin rims vanish)."""
    out = mask.copy()
    out[1:, :] &= mask[:-1, :]
    out[:-1, :] &= mask[1:, :]
    out[:, 1:] &= mask[:, :-1]
    out[:, :-1] &= mask[:, 1:]
    return out


def classify_page(
    image: Image.Image | Callable[[], Image.Image],
    dpi: float,
    *,
    colour_hint: bool = False,
    thumb: Image.Image | None = None,
) -> PageClass:
    """Classify one page from its pixels (RGB or L) at `dpi`. `thumb`: its thumbnail where the
    caller made it otherwise (from a JPEG's planes, jpeg_planes.rgb_thumbnail); `image` may then
    be a function that makes the page, called only for a near-blank page's closer look."""
    seen = _measure(thumb if thumb is not None else thumbnail(_made(image), dpi))
    if seen.content_any < 0.001 and _is_blank(_made(image), dpi):  # the thumbnail pre-filters; a closer look decides
        return seen.named("blank")
    return seen.named(_class_name(seen, colour_hint))


def _made(image: Image.Image | Callable[[], Image.Image]) -> Image.Image:
    return image if isinstance(image, Image.Image) else image()


def thumbnail_reduction(dpi: float) -> int | None:
    """The integer box reduction thumbnail() makes of a page at `dpi`, or None where it resizes
    or keeps the page as it is."""
    ratio = dpi / THUMB_DPI
    if ratio <= 1.1 or abs(ratio - round(ratio)) >= 0.1:
        return None
    return round(ratio)


def rough_class(image: Image.Image, dpi: float, *, colour_hint: bool = False) -> PageClass | None:
    """The class of a page seen coarsely (ROUGH_DPI), or None where it may be blank.

    For a page kept as it is, whose class only guides a later pass (which classifies it again
    from the pixels it decodes): libjpeg's 1/8-scale decode costs half the 150 dpi one, and
    the classification a tenth. Content seen this coarsely is content at any resolution; a page
    that shows almost none may still carry one small mark, and only classify_page on a closer
    view (150 dpi) may call it blank — so None, never "blank".
    """
    seen = _measure(thumbnail(image, dpi))
    if seen.content_any < 0.001:
        return None
    return seen.named(_class_name(seen, colour_hint))


@dataclass(frozen=True)
class _Measures:
    """What classification reads on a page's ~100 dpi thumbnail (fractions of its pixels)."""

    ink_fraction: float
    colour_fraction: float
    midtone_fraction: float
    content_any: float  # content or colour
    span: float  # paper level − ink level

    def named(self, name: str) -> PageClass:
        return PageClass(
            name=name,  # type: ignore[arg-type]
            ink_fraction=round(self.ink_fraction, 6),
            colour_fraction=round(self.colour_fraction, 6),
            midtone_fraction=round(self.midtone_fraction, 6),
        )


def _class_name(seen: _Measures, colour_hint: bool) -> str:
    if colour_hint or seen.colour_fraction > COLOUR_MIN_FRACTION:
        return "colour"
    if seen.midtone_fraction > GREY_MIN_FRACTION or seen.span < 90:
        # span < 90: the darkest ink is pale (faded print, pencil): bilevel would lose it.
        return "grey"
    return "bilevel"


def _measure(thumb: Image.Image) -> _Measures:
    if thumb.mode == "RGB":
        r, g, b = thumb.split()
        # max−min of the channels with Pillow's C operations (numpy's axis-2 reductions are slow).
        hi = ImageChops.lighter(ImageChops.lighter(r, g), b)
        lo = ImageChops.darker(ImageChops.darker(r, g), b)
        chroma = np.asarray(ImageChops.subtract(hi, lo))
        grey_img = thumb.convert("L")  # ITU-R 601 luma
        coloured = clustered(chroma > CHROMA_MIN)
    else:
        grey_img = _as_grey(thumb)
        coloured = np.zeros((grey_img.height, grey_img.width), dtype=bool)
    grey = np.asarray(grey_img, dtype=np.int16)
    total = grey.size
    paper = paper_level(grey_img)
    content = clustered(grey < _below(paper - CONTENT_DELTA))

    # Solid ink is well below the paper; midtones are between. Thin midtone rims around
    # characters are anti-aliasing; erode them away and see what broad areas remain.
    ink_level = hist_percentile(np.bincount(grey[content], minlength=256), 5) if np.any(content) else paper
    span = max(paper - ink_level, 1.0)
    mid = (grey > _above(ink_level + 0.3 * span)) & (grey < _below(min(paper - 0.25 * span, paper - CONTENT_DELTA)))
    return _Measures(
        ink_fraction=float(np.count_nonzero(content)) / total,
        colour_fraction=float(np.count_nonzero(coloured)) / total,
        midtone_fraction=float(np.count_nonzero(_erode(mid))) / total,
        content_any=float(np.count_nonzero(content | coloured)) / total,
        span=span,
    )


def binarise(grey: Image.Image, histogram: Sequence[int] | None = None) -> Image.Image:
    """Text page → 1-bit, with the threshold placed to keep thin and light strokes.

    Otsu's threshold splits paper from ink; it is then moved towards the paper by a
    quarter of the gap, because a threshold at the midpoint erodes thin Mincho
    strokes (measured here: 6–8 pt Mincho reads worse at the midpoint).
    """
    grey = _as_grey(grey)
    hist = np.asarray(grey.histogram() if histogram is None else histogram, dtype=np.float64)
    t = _otsu(hist)
    paper = hist_percentile(hist, 90)
    threshold = int(min(paper - CONTENT_DELTA, t + 0.25 * (paper - t)))
    lut = [0 if v < threshold else 255 for v in range(256)]
    return grey.point(lut, mode="1")


def four_levels(grey: Image.Image, histogram: Sequence[int] | None = None) -> Image.Image:
    """Text page → four grey levels (mode L holding 0–3), ink black and paper pure white.

    Keeps the anti-aliased edge of each stroke that binarisation throws away: at 6.5–8 pt
    that edge is what tells one kanji stroke from the next, to a reader and to OCR alike
    (tesseract's recogniser reads grey line images; measured in bench/README.md). The
    levels are stretched from the ink's mean to just below the paper, so scanner tint and
    noise in the paper map to white and compress to almost nothing.
    """
    return grey_levels(grey, 4, histogram=histogram)


def sixteen_levels(grey: Image.Image, histogram: Sequence[int] | None = None) -> Image.Image:
    """Thin print → sixteen grey levels (mode L holding 0–15), paper white from 16 below it.

    Four levels leave 6.5 pt notes at +5 pp OCR error (typical bundle, financial statements
    page 6, median of three readings). Sixteen keep the stroke edges those need — but with four
    levels' paper margin (8) they also resolve the paper's noise just below it into speckle
    (levels 13–14, 50,000 pixels on that page), which moved tesseract's layout analysis: the heavy
    bundle's notes page read +10.9 pp (so did JPEG q80). Paper from 16 below it is white: the
    four notes pages of typical and heavy read −1.5 … +1.5 pp, at 45 % fewer bytes.
    """
    return grey_levels(grey, 16, paper_noise=2 * PAPER_NOISE, histogram=histogram)


def grey_levels(grey: Image.Image, count: int, *, paper_noise: int = PAPER_NOISE,
                histogram: Sequence[int] | None = None) -> Image.Image:
    """Text page → `count` grey levels (mode L holding 0 = ink … count − 1 = paper).

    The ink's mean to `paper_noise` below the paper is stretched over the levels, darker clipped
    to ink and lighter to paper (four_levels says why). `histogram`: the grey image's own, or its
    sample_histogram, where the caller has counted one already.
    """
    grey = _as_grey(grey)
    hist = np.asarray(grey.histogram() if histogram is None else histogram, dtype=np.float64)
    return grey.point(_levels_lut(hist, count, paper_noise))


def sample_histogram(grey: Image.Image) -> list[int]:
    """The histogram of every third pixel of every third row (a point sample: the strokes keep
    their shape; ~1 MP of an A4 page at 300 dpi). What the grey levels read of a page — Otsu's
    threshold, the paper's 90th percentile, the ink's mean — are shares of its pixels, and a
    ninth of them gives the same within a level, in a sixth of the time of counting all of them
    (3.2 ms on an A4 page at 300 dpi; every text page the first pass encodes counts one)."""
    sample = grey.resize((max(1, grey.width // 3), max(1, grey.height // 3)), Image.Resampling.NEAREST)
    return _as_grey(sample).histogram()


def thin_strokes(grey: Image.Image, histogram: Sequence[int] | None = None) -> bool:
    """Whether the print is fine enough that four grey levels lose it: more pixels on four
    levels' two edge levels than on its ink level, i.e. strokes about as wide as their grey
    edges. Counted on sample_histogram (the ratio within ±0.03 of all pixels', in a fifth of the
    time — it runs on every text page the first pass encodes); `histogram`: that sample's, where
    the caller has it.

    Measured on the generated bundles at 300 dpi: the 6.5–7 pt notes pages 1.06–1.10 (four
    levels read one of them at +5 pp, sixteen at −1.5 pp); every other text page (typical's 19,
    heavy's 81) 0.93 or less, where four levels read within +2.8 pp (typical, every page; heavy
    within +1.8 pp on every 2nd page, bench/README.md).
    """
    hist = np.asarray(sample_histogram(grey) if histogram is None else histogram, dtype=np.float64)
    lut = np.asarray(_levels_lut(hist, 4))
    ink, edge = hist[lut == 0].sum(), hist[(lut == 1) | (lut == 2)].sum()
    return bool(edge > THIN_STROKE_EDGE_RATIO * ink > 0)


def _levels_lut(hist: np.ndarray, count: int, paper_noise: int = PAPER_NOISE) -> list[int]:
    """The grey → level table of grey_levels for a page with this histogram."""
    t = int(_otsu(hist))
    paper = hist_percentile(hist, 90)
    levels = np.arange(256, dtype=np.float64)
    ink_pixels = hist[:t].sum()
    ink = float((hist[:t] * levels[:t]).sum() / ink_pixels) if ink_pixels else 0.0
    white = max(ink + 1.0, paper - paper_noise)
    scaled = np.clip((levels - ink) / (white - ink), 0.0, 1.0)
    return [int(v) for v in np.rint(scaled * (count - 1))]


def _as_grey(image: Image.Image) -> Image.Image:
    """The image in mode L. Pillow's convert() to the mode an image already has copies it
    (an A4 page at 300 dpi: 8.7 MB, ~3 ms); the callers here only read it."""
    return image if image.mode == "L" else image.convert("L")


def _otsu(hist: np.ndarray) -> float:
    total = hist.sum()
    levels = np.arange(256, dtype=np.float64)
    w0 = np.cumsum(hist)
    w1 = total - w0
    m0 = np.cumsum(hist * levels)
    mt = m0[-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        between = (mt * w0 / total - m0) ** 2 / (w0 * w1)
    between[~np.isfinite(between)] = 0
    return float(np.argmax(between))

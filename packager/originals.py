"""Which pages the first pass encodes, and which it only looks at and keeps as they are.

A case over the limit seldom needs every page encoded. The plan (plan.py) gives every page
the same level first — level 1, the best rung — and keeps a page's original where the bytes
allow; a page that keeps its original costs what its stored streams cost. So the pages with
the largest originals are encoded, largest first, until the others fit as they are next to
them; the others are only looked at (decoded at the classifier's 150 dpi, classified, blank
backs found, the original copied): no full-resolution decode and no encoding, the MRC
segmentation least of all. On the typical bundle that is more than half of the pages.

It is decided in two steps, from data only (never from which worker finished first), so the
same case always gives the same split and the same bytes:

1. before any page is read, from what intake knows (a PDF page's stored stream lengths, a
   JPEG or PNG file's size): the largest originals are encoded until the rest fits beside
   them, each counted at a low guess of its encoded size (floor_guess); every other page is
   looked at;
2. after that pass, with measured sizes: while the pages at level 1 exceed the room, another
   wave of looked-at pages is encoded, largest original first, as many as a guess of their
   encoded size says are needed.

Pages without a stream to keep (TIFF, HEIC, PNG with alpha …) are always encoded. A case
whose originals all likely fit (passes.originals_likely_fit) does not come here.
"""

from __future__ import annotations

from collections.abc import Sequence

from packager import encode, plan
from packager.model import PageAnalysis, SourcePage

# The room is the limit less this share: the split works from estimates (stored stream
# lengths, the PDF structure of each page), and the plan that decides in the end measures
# exactly. Too little room costs only time (a page encoded that keeps its original anyway);
# too much costs a second pass.
ROOM_MARGIN = 0.04

# A guess of a page's best-rung bytes per decoded pixel at ≤ 300 dpi, by class, used only to
# size a wave (high on purpose: a wave that encodes one page too many is cheaper than one more
# wave). Measured on the generated bundles: four grey levels 0.004–0.021 B/px, MRC colour
# 0.010–0.05 B/px (8.7 MP A4 pages: 30–180 KB and 90–430 KB).
_GUESS_BYTES_PER_PIXEL = {"bilevel": 0.03, "grey": 0.06, "colour": 0.07}
# A phone photo's best rung keeps every pixel as JPEG q80: measured 0.42–0.45 of the file.
_GUESS_PHOTO_SHARE = 0.6


def stored_bytes(page: SourcePage) -> int | None:
    """What keeping the page as it is will cost, as far as intake knows; None when the page
    has no stream to keep (it is always encoded)."""
    if not encode.original_possible(page):
        return None
    if page.input.format == "pdf":
        return page.stream_bytes
    return page.input.bytes_


def room_bytes(limit_bytes: int, overhead_bytes: int) -> int:
    """The bytes the pages may take at level 1 for the split to stop encoding: the limit less
    the margin and the PDF structure of the files and pages (`overhead_bytes`)."""
    return int(limit_bytes * (1 - ROOM_MARGIN)) - overhead_bytes


def initial_split(pages: Sequence[SourcePage], room: int) -> list[bool]:
    """Per page, whether the first pass encodes it (True) or only looks at it (False): the
    largest stored originals are encoded until the rest fits in `room` as it is beside them,
    each encoded page counted at a low guess of its size (floor_guess)."""
    stored = [stored_bytes(p) for p in pages]
    encode_it = [s is None for s in stored]
    cost = sum(floor_guess(p) if s is None else s for p, s in zip(pages, stored, strict=True))
    for i in _largest_first(stored):
        if cost <= room:
            break
        encode_it[i] = True
        cost -= (stored[i] or 0) - floor_guess(pages[i])
    return encode_it


# Before any page is read, an encoded page is counted at this low guess of its best rung, in
# bytes per pixel at ≤ 300 dpi (measured best rungs: four grey levels 0.004–0.021, MRC
# 0.010–0.05): low, so the pages encoded then are pages the plan needs; above zero, so that a
# second wave (a barrier, and a second look and decode of each of its pages) is seldom needed.
# Measured: at 0 typical needed a wave of 2 pages and heavy one of 9; at 0.01 neither needs
# one, for one page more encoded in typical and one fewer in heavy.
FLOOR_BYTES_PER_PIXEL = 0.01


def beyond_level_one(pages: Sequence[SourcePage], room: int) -> bool:
    """Whether the case will not fit at level 1 even if every page is encoded: each page
    counted at the floor guess of its best rung, or at its stored size where that is smaller
    (level 1 never takes more than the original), and still over `room`. The first pass then
    also encodes the next rung of every page, from the same decode (passes.describe); else a
    second pass would decode every page again for it (the heavy bundle at 10 MB: 10.1 MB of
    floor guesses against 9.5 MB of room; measured, its level 1 takes 14.3 MB). A case
    this does not catch still gets its second pass."""
    total = 0
    for page in pages:
        stored = stored_bytes(page)
        total += floor_guess(page) if stored is None else min(stored, floor_guess(page))
    return total > room


def floor_guess(page: SourcePage) -> int:
    """A low guess of a page's best-rung bytes, from its size and resolution alone."""
    return int(_pixels_encoded(page) * FLOOR_BYTES_PER_PIXEL)


def _pixels_encoded(page: SourcePage) -> float:
    """The pixels of the page's best rung: at its own resolution, at most 300 dpi."""
    dpi = min(page.native_dpi or 300.0, 300.0)
    return page.width_in * page.height_in * dpi * dpi


def _largest_first(sizes: Sequence[int | None]) -> list[int]:
    """Indices of the known sizes, largest first (ties in page order: deterministic)."""
    return sorted((i for i, s in enumerate(sizes) if s is not None), key=lambda i: (-(sizes[i] or 0), i))


def level_one_bytes(page: PageAnalysis) -> int:
    """What the page costs at the plan's level 1: its best rung, or its original where it has
    nothing else (only looked at, or every rung larger than the original)."""
    levels = plan.levels_of(page)
    return page.candidates[levels[min(1, len(levels) - 1)]].bytes_


def _original_bytes(page: PageAnalysis) -> int | None:
    return next((c.bytes_ for c in page.candidates if c.spool_index == 0), None)


def encoded_guess(page: PageAnalysis) -> int:
    """A high guess of the page's best-rung bytes once encoded (sizes a wave only)."""
    original = _original_bytes(page) or 0
    if page.page.dpi_estimated:
        return int(original * _GUESS_PHOTO_SHARE)
    guess = int(_pixels_encoded(page.page) * _GUESS_BYTES_PER_PIXEL.get(page.page_class.name, 0.07))
    return min(guess, original)


def next_wave(looked: Sequence[PageAnalysis], excess: int) -> list[int]:
    """Indices into `looked` (pages kept as they are so far) to encode next, largest guessed
    saving first, until the savings cover `excess`; at least one while any is left. Largest
    saving first is the plan's own order turned round: its leftover bytes keep the originals
    that cost least over the best rung, so the pages that would cost most are the ones to encode."""
    savings = [(_original_bytes(p) or 0) - encoded_guess(p) for p in looked]
    wave: list[int] = []
    saved = 0
    for i in _largest_first(savings):
        if saved >= excess:
            break
        wave.append(i)
        saved += savings[i]
    return wave

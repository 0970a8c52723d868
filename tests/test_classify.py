"""classify: blank backs are dropped, anything with content never is; colour and grey kept."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageDraw, ImageFilter, ImageOps

from fixtures.documents import _NOTES
from fixtures.pages import blank_page, font, photo_page, text_page
from packager.classify import (
    _above,
    _below,
    binarise,
    classify_page,
    clustered,
    four_levels,
    grey_levels,
    sixteen_levels,
    thin_strokes,
)

DPI = 150  # the classifier works on a ~100 dpi thumbnail; 150 keeps the tests quick


@pytest.mark.parametrize("seed", range(4))
def test_noisy_blank_backs_are_blank(seed: int) -> None:
    assert classify_page(blank_page(DPI, noise=True, seed=seed), DPI).name == "blank"


def test_colour_paper_blank_is_blank() -> None:
    assert classify_page(blank_page(DPI, noise=True, colour=True), DPI).name == "blank"


def test_text_page_is_bilevel() -> None:
    image, _ = text_page(DPI, seed=1)
    assert classify_page(image, DPI).name == "bilevel"


def test_red_seal_makes_a_page_colour() -> None:
    image, _ = text_page(DPI, seed=1, colour_seal=True)
    assert classify_page(image, DPI).name == "colour"


def test_faint_print_is_never_blank_nor_bilevel() -> None:
    image, _ = text_page(DPI, seed=2, faint=True)
    assert classify_page(image, DPI).name == "grey"


def test_photo_page_is_not_bilevel() -> None:
    image, _ = photo_page(DPI, seed=3)
    assert classify_page(image, DPI).name in ("grey", "colour")


def test_colour_hint_keeps_colour() -> None:
    image, _ = text_page(DPI, seed=1)
    assert classify_page(image.convert("RGB"), DPI, colour_hint=True).name == "colour"


@settings(max_examples=25, deadline=None)
@given(
    x=st.integers(0, 900),
    y=st.integers(0, 1400),
    contrast=st.integers(30, 130),
    chars=st.integers(1, 3),
    size_px=st.integers(14, 30),
)
def test_any_small_faint_writing_is_never_blank(x: int, y: int, contrast: int, chars: int, size_px: int) -> None:
    """A few faint characters anywhere on a noisy page (a date, initials, 以下余白) keep the page.

    Faint means at least 12% darker than the paper around the mark (30 of 255 levels, a
    light pencil; the scanner's shading makes the edges ~12 levels darker than the middle).
    Much fainter is the regime of show-through from the front side, which stays blank (below).
    """
    page = blank_page(DPI, noise=True, seed=x % 3)
    w, h = page.size
    at = (min(x, w - 100), min(y, h - 40))
    around = np.asarray(page.convert("L"))[at[1] : at[1] + 40, at[0] : at[0] + 100]
    ink = int(np.median(around)) - contrast
    ImageDraw.Draw(page).text(at, "以下余白"[:chars], font=font("mincho", size_px), fill=ink)
    assert classify_page(page, DPI).name != "blank"


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_show_through_of_the_front_side_is_blank(seed: int) -> None:
    """A duplex back shows the front's text mirrored at ~5% contrast: that back is blank."""
    back = np.asarray(blank_page(DPI, noise=True, seed=seed), dtype=np.float32)
    front, _ = text_page(DPI, seed=seed)
    ghost = np.asarray(ImageOps.mirror(front.convert("L")), dtype=np.float32)
    page = Image.fromarray(np.clip(back - (255 - ghost) * 0.05, 0, 255).astype(np.uint8))
    assert classify_page(page, DPI).name == "blank"


def test_binarise_keeps_thin_strokes() -> None:
    image, _ = text_page(300, seed=5, size_mm=(105, 74), pt=7)
    bw = binarise(image)
    assert bw.mode == "1"
    ink = 1 - np.asarray(bw, dtype=np.float32).mean()
    grey = np.asarray(image.convert("L"), dtype=np.float32)
    dark = (grey < 128).mean()
    # The threshold sits towards the paper: at least as much ink as a midpoint cut, not a blot.
    assert dark * 0.95 <= ink <= dark * 3


def test_sixteen_levels_whiten_paper_and_grade_the_stroke_edges() -> None:
    image, _ = text_page(300, seed=3, size_mm=(105, 74), pt=7, faint=True)
    grey = np.asarray(image.convert("L"))
    levels = np.asarray(sixteen_levels(image))
    assert levels.dtype == np.uint8 and levels.max() == 15 and levels.min() == 0
    assert (levels == 15).mean() > 0.85  # the scanner's paper tint and noise are white
    # Paper noise a little below the paper is white too, not speckle on the light levels
    # (which moved tesseract's layout analysis): far fewer such pixels than with four levels' margin.
    near_paper = np.asarray(grey_levels(image, 16))
    assert ((levels == 13) | (levels == 14)).sum() < 0.5 * ((near_paper == 13) | (near_paper == 14)).sum()
    edges = (levels > 0) & (levels < 15)
    assert len(np.unique(levels[edges])) == 14  # every level in between holds some stroke edge
    # Finer than four levels: pixels four levels put on one level are told apart here.
    four = np.asarray(four_levels(image))
    assert any(len(np.unique(levels[four == k])) >= 4 for k in (1, 2))
    # Monotone: a darker source pixel never gets a lighter level.
    order = np.argsort(grey, axis=None, kind="stable")
    assert np.all(np.diff(levels.ravel()[order].astype(int)) >= 0)


@pytest.mark.parametrize("seed", range(3))
def test_thin_strokes_tell_fine_soft_print_from_ordinary_print(seed: int) -> None:
    """6.5 pt notes on a slightly soft scan are thin print (sixteen grey levels pay there);
    10.5 pt print on the same scanner, a 1-bit scan and a blank page are not."""
    notes, _ = text_page(300, lines=[n[:40] for n in _NOTES[:8]], pt=6.5, seed=seed, size_mm=(148, 105))
    letter, _ = text_page(300, lines=[n[:40] for n in _NOTES[:8]], pt=10.5, seed=seed, size_mm=(148, 105))
    soft = ImageFilter.GaussianBlur(0.6)
    assert thin_strokes(notes.filter(soft))
    assert not thin_strokes(letter.filter(soft))
    assert not thin_strokes(binarise(notes))  # no grey edges at all
    assert not thin_strokes(blank_page(300, noise=True, seed=seed))


def test_four_levels_are_grey_levels_at_four() -> None:
    """four_levels is grey_levels(…, 4): pixel for pixel, so its rung's bytes are as before."""
    image, _ = text_page(300, seed=7, size_mm=(60, 40), pt=8)
    assert np.array_equal(np.asarray(four_levels(image)), np.asarray(grey_levels(image, 4)))
    assert set(np.unique(np.asarray(four_levels(image)))) == {0, 1, 2, 3}


@settings(max_examples=40, deadline=None)
@given(
    st.integers(0, 2**32 - 1),
    st.integers(1, 200),
    st.integers(100, 255),
    st.sampled_from([2, 4, 16]),
    st.integers(0, 40),
)
def test_grey_levels_keep_the_order_of_any_page(seed: int, ink: int, paper: int, count: int, noise: int) -> None:
    """Whatever the page (even ink lighter than the usual paper, or one flat tone), levels
    stay in 0…count−1 and a darker pixel never gets a lighter level."""
    rng = np.random.default_rng(seed)
    grey = rng.integers(min(ink, paper), max(ink, paper) + 1, size=(40, 60), dtype=np.uint8)
    levels = np.asarray(grey_levels(Image.fromarray(grey, "L"), count, paper_noise=noise)).astype(int)
    assert levels.min() >= 0 and levels.max() <= count - 1
    order = np.argsort(grey, axis=None, kind="stable")
    assert np.all(np.diff(levels.ravel()[order]) >= 0)


def test_tiny_image_classifies() -> None:
    assert classify_page(Image.new("L", (20, 20), 255), 100).name == "blank"


def _clustered_by_definition(mask: np.ndarray) -> np.ndarray:
    padded = np.pad(mask.astype(np.int32), 1)
    h, w = mask.shape
    neighbours = sum(
        padded[1 + dy : 1 + dy + h, 1 + dx : 1 + dx + w] for dy in (-1, 0, 1) for dx in (-1, 0, 1) if dy or dx
    )
    return mask & (neighbours >= 2)


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 40), st.integers(1, 40), st.floats(0, 1), st.integers(0, 2**32 - 1))
def test_clustered_keeps_pixels_with_two_set_neighbours(h: int, w: int, density: float, seed: int) -> None:
    mask = np.random.default_rng(seed).random((h, w)) < density
    assert np.array_equal(clustered(mask), _clustered_by_definition(mask))


@given(st.floats(-300, 600, allow_nan=False))
def test_integer_thresholds_compare_like_the_float(t: float) -> None:
    values = np.arange(256, dtype=np.int16)
    assert np.array_equal(values < _below(t), values < t)
    assert np.array_equal(values > _above(t), values > t)

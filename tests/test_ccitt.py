"""CCITT G4 of packed rows by libtiff: the same pixels back, in fewer bytes than Pillow's."""

from __future__ import annotations

import io

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from packager import ccitt


def _ink_rows(ink: np.ndarray) -> bytes:
    return np.packbits(ink, axis=1).tobytes()


def test_libtiff_is_there() -> None:
    # scripts/setup.sh installs it (libtiff6); without it mrc falls back to Pillow's writer.
    assert ccitt.available()


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 90), st.integers(1, 150), st.floats(0, 1), st.integers(0, 2**16))
def test_the_tiff_holds_the_rows_pixels(h: int, w: int, density: float, seed: int) -> None:
    ink = np.random.default_rng(seed).random((h, w)) < density
    data = ccitt.tiff(_ink_rows(ink), w, h)
    assert data is not None
    with Image.open(io.BytesIO(data)) as tif:
        assert tif.size == (w, h)
        assert tif.tag_v2[259] == 4 and tif.tag_v2[262] == 0  # G4, MinIsWhite: ink = 1
        assert tif.tag_v2[278] == h  # one strip: a PDF embeds it as one image
        paper = np.asarray(tif.convert("1"), dtype=bool)
    assert np.array_equal(paper, ~ink)


def test_a_text_page_is_smaller_than_pillows_g4() -> None:
    rng = np.random.default_rng(2)
    ink = np.zeros((600, 500), bool)
    for _ in range(300):  # strokes on white paper
        y, x = rng.integers(0, 590), rng.integers(0, 480)
        ink[y : y + rng.integers(2, 10), x : x + rng.integers(2, 20)] = True
    ours = ccitt.tiff(_ink_rows(ink), 500, 600)
    buf = io.BytesIO()
    Image.fromarray(~ink).save(buf, "TIFF", compression="group4")
    assert ours is not None and len(ours) < len(buf.getvalue())


def test_wrong_sizes_give_none() -> None:
    assert ccitt.tiff(b"\x00" * 10, 80, 2) is None  # 2 rows of 80 pixels are 20 bytes
    assert ccitt.tiff(b"", 0, 0) is None

"""flate: grey-level PNGs that read back as the same pixels, in a PNG reader and in the PDF."""

from __future__ import annotations

import io

import numpy as np
import pikepdf
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from packager.encode import _image_pdf
from packager.flate import grey_png


@settings(max_examples=40, deadline=None)
@given(
    bits=st.sampled_from([2, 4]),
    width=st.integers(1, 67),  # odd widths: the last byte of a row is padded
    height=st.integers(1, 9),
    seed=st.integers(0, 2**32 - 1),
)
def test_levels_read_back_exactly(bits: int, width: int, height: int, seed: int) -> None:
    levels = np.random.default_rng(seed).integers(0, 2**bits, size=(height, width), dtype=np.uint8)
    png = Image.open(io.BytesIO(grey_png(Image.fromarray(levels, "L"), bits)))
    # Pillow shows level k of 2**bits as k · 255 / (2**bits − 1).
    assert np.array_equal(np.asarray(png), levels * (255 // (2**bits - 1)))


@pytest.mark.parametrize("bits", [2, 4])
def test_pdf_holds_the_same_levels(bits: int) -> None:
    levels = np.random.default_rng(bits).integers(0, 2**bits, size=(31, 45), dtype=np.uint8)
    pdf = pikepdf.open(io.BytesIO(_image_pdf(grey_png(Image.fromarray(levels, "L"), bits), 300)))
    image = next(iter(pdf.pages[0].Resources.XObject.values()))
    assert image.BitsPerComponent == bits
    shown = np.asarray(pikepdf.PdfImage(image).as_pil_image().convert("L"))
    assert np.array_equal(shown, levels * (255 // (2**bits - 1)))


def test_same_image_same_bytes() -> None:
    levels = Image.fromarray(np.random.default_rng(1).integers(0, 4, size=(50, 70), dtype=np.uint8), "L")
    assert grey_png(levels, 2) == grey_png(levels.copy(), 2)


def test_refuses_what_it_cannot_write() -> None:
    with pytest.raises(ValueError, match="2 or 4 bits"):
        grey_png(Image.new("RGB", (4, 4)), 2)

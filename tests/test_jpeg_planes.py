"""jpeg_planes: a colour JPEG's luma and chroma from libturbojpeg, and when it is not used."""

from __future__ import annotations

import io
from pathlib import Path

import img2pdf
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageDraw

from packager import jpeg_planes
from packager.classify import CHROMA_MIN, classify_page
from packager.intake import scan_case
from packager.pages import describe_pages, load_page
from packager.profiles import load_system_profile

SYSTEM = load_system_profile()

needs_library = pytest.mark.skipif(not jpeg_planes.available(), reason="libturbojpeg is not installed")


def _text_scan(colour_mark: bool = False, *, seed: int = 0) -> Image.Image:
    """A 150 dpi A5-ish scan: black print on slightly noisy off-white paper (and a red seal)."""
    rng = np.random.default_rng(seed)
    paper = np.clip(rng.normal(238, 3, (900, 640, 1)), 0, 255).repeat(3, axis=2).astype(np.uint8)
    im = Image.fromarray(paper, "RGB")
    draw = ImageDraw.Draw(im)
    for row in range(12):
        draw.text((40, 60 + row * 60), "Statement of income 2025  ¥1,234,567", fill=(20, 20, 20))
    if colour_mark:
        draw.ellipse((420, 640, 560, 780), outline=(200, 30, 30), width=6)
    return im


def _jpeg(im: Image.Image, **save: object) -> bytes:
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=90, **save)
    return buf.getvalue()


@needs_library
def test_luma_is_the_jpegs_own_grey() -> None:
    data = _jpeg(_text_scan())
    planes = jpeg_planes.decode(data)
    assert planes is not None
    grey = Image.open(io.BytesIO(data))
    grey.draft("L", grey.size)  # libjpeg's own luma output
    assert planes.luma.size == grey.size
    diff = np.abs(np.asarray(planes.luma, np.int16) - np.asarray(grey.convert("L"), np.int16))
    assert diff.max() <= 1
    # 4:2:0: chroma at half the size each way
    assert [c.size for c in planes.chroma] == [(320, 450), (320, 450)]


@needs_library
def test_rgb_from_planes_is_pillows_decode_but_at_colour_edges() -> None:
    data = _jpeg(_text_scan(colour_mark=True))
    planes = jpeg_planes.decode(data)
    assert planes is not None
    ours = np.asarray(jpeg_planes.to_rgb(planes), np.int16)
    pillow = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"), np.int16)
    diff = np.abs(ours - pillow)
    assert diff.mean() < 1.0  # the chroma's plain upsampling differs only along colour edges
    assert np.percentile(diff, 99) <= 8


@needs_library
@pytest.mark.parametrize("reduce", [2, 4, 8])
def test_scaled_decode_is_pillows_draft_size(reduce: int) -> None:
    data = _jpeg(_text_scan())
    planes = jpeg_planes.decode(data, reduce)
    im = Image.open(io.BytesIO(data))
    im.draft("RGB", (im.width // reduce, im.height // reduce))
    assert planes is not None and planes.luma.size == im.size
    rgb = jpeg_planes.to_rgb(planes)  # odd sizes: the planes are padded, the image is not
    assert rgb.size == im.size
    assert np.abs(np.asarray(rgb, np.int16) - np.asarray(im.convert("RGB"), np.int16)).mean() < 1.5


@needs_library
@pytest.mark.parametrize(
    "data",
    [
        _jpeg(Image.new("L", (64, 64), 200)),  # grey: Pillow's L decode is as fast
        _jpeg(Image.new("CMYK", (64, 64), (0, 255, 255, 0))),
        _jpeg(_text_scan())[:4000],  # truncated: Pillow decodes it and names the damage
        b"not a jpeg at all",
    ],
    ids=["grey", "cmyk", "truncated", "garbage"],
)
def test_what_it_does_not_decode(data: bytes) -> None:
    assert jpeg_planes.decode(data) is None


def test_a_reduction_libjpeg_cannot_make_is_refused() -> None:
    with pytest.raises(ValueError, match="1/3"):
        jpeg_planes.decode(b"", 3)


@needs_library
def test_quiet_chroma_and_a_red_seal() -> None:
    quiet = jpeg_planes.decode(_jpeg(_text_scan()))
    sealed = jpeg_planes.decode(_jpeg(_text_scan(colour_mark=True)))
    assert quiet is not None and sealed is not None
    assert quiet.chroma_quiet()
    assert not sealed.chroma_quiet()


@settings(max_examples=200, deadline=None)
@given(
    y=st.integers(0, 255),
    cb=st.integers(128 - jpeg_planes.QUIET_CHROMA, 128 + jpeg_planes.QUIET_CHROMA),
    cr=st.integers(128 - jpeg_planes.QUIET_CHROMA, 128 + jpeg_planes.QUIET_CHROMA),
)
def test_quiet_chroma_can_never_count_as_colour(y: int, cb: int, cr: int) -> None:
    """The bound chroma_quiet relies on: any Y with Cb, Cr within QUIET_CHROMA of neutral gives an
    RGB whose max − min stays at or below classify's CHROMA_MIN (colour is > CHROMA_MIN)."""
    rgb = Image.new("YCbCr", (1, 1), (y, cb, cr)).convert("RGB").getpixel((0, 0))
    assert isinstance(rgb, tuple)
    assert max(rgb) - min(rgb) <= CHROMA_MIN


def _pdf_scan(tmp_path: Path, im: Image.Image, name: str = "statement.pdf"):  # type: ignore[no-untyped-def]
    (tmp_path / name).write_bytes(img2pdf.convert(_jpeg(im, dpi=(150, 150))))
    inp = next(i for i in scan_case(tmp_path, SYSTEM).inputs if i.path == name)
    return describe_pages(inp, SYSTEM)[0]


@needs_library
def test_a_quiet_colour_scan_loads_as_its_luma_and_classifies_the_same(tmp_path: Path) -> None:
    page = _pdf_scan(tmp_path, _text_scan())
    as_planes = load_page(page, 300, planes=True)
    as_rgb = load_page(page, 300)
    assert as_planes.image.mode == "L" and as_planes.planes is not None and as_rgb.image.mode == "RGB"
    assert as_planes.dpi == as_rgb.dpi
    diff = np.abs(np.asarray(as_planes.image, np.int16) - np.asarray(as_rgb.image.convert("L"), np.int16))
    assert diff.max() <= 1
    assert classify_page(as_planes.image, as_planes.dpi) == classify_page(as_rgb.image, as_rgb.dpi)
    assert as_planes.in_colour().image.mode == "RGB"  # a page the plan wants in colour gets its RGB
    assert as_planes.in_grey() is as_planes


@needs_library
def test_a_colour_scan_loads_as_its_luma_with_its_colour_made_on_demand(tmp_path: Path) -> None:
    page = _pdf_scan(tmp_path, _text_scan(colour_mark=True))
    loaded = load_page(page, 300, planes=True)
    assert loaded.image.mode == "L" and loaded.planes is not None and loaded.colour_pending
    assert classify_page(loaded.rgb, loaded.dpi).name == "colour"
    assert loaded.rgb is loaded.rgb  # made once
    coloured = loaded.in_colour()
    assert coloured.image is loaded.rgb and coloured.planes is loaded.planes and not coloured.colour_pending
    grey = loaded.in_grey()  # for text rungs: the luma, its colour not made on demand
    assert grey.image is loaded.image and not grey.colour_pending


def test_the_thumbnail_from_the_planes_is_the_rgbs_reduced(tmp_path: Path) -> None:
    page = _pdf_scan(tmp_path, _text_scan(colour_mark=True))
    loaded = load_page(page, 300, planes=True)
    assert loaded.planes is not None
    from_rgb = np.asarray(loaded.rgb.reduce(3), dtype=np.int16)
    from_planes = np.asarray(jpeg_planes.rgb_thumbnail(loaded.planes, 3), dtype=np.int16)
    assert from_planes.shape == from_rgb.shape
    diff = np.abs(from_planes - from_rgb)
    assert diff.mean() < 1 and np.percentile(diff, 99) <= 4  # colour edges: the chroma is sampled 1.5 to 1
    thumb = jpeg_planes.rgb_thumbnail(loaded.planes, 3)
    assert classify_page(lambda: loaded.rgb, loaded.dpi, thumb=thumb).name == classify_page(loaded.rgb, loaded.dpi).name


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 40), st.integers(1, 40), st.integers(0, 2**16))
def test_two_thirds_is_pillows_box(h: int, w: int, seed: int) -> None:
    plane = np.random.default_rng(seed).integers(0, 256, (h, w), dtype=np.uint8)
    got = jpeg_planes.two_thirds(plane)
    assert got.shape == (-(-h // 3) * 2, -(-w // 3) * 2)
    # Whole blocks of 3 × 3: Pillow's box filter (which rounds after each direction, numpy once).
    h3, w3 = h // 3 * 3, w // 3 * 3
    if h3 and w3:
        want = Image.fromarray(plane[:h3, :w3], "L").resize((w3 * 2 // 3, h3 * 2 // 3), Image.Resampling.BOX)
        assert np.abs(got[: h3 * 2 // 3, : w3 * 2 // 3].astype(int) - np.asarray(want, dtype=int)).max() <= 1
    # Beyond the plane, the edge repeated: every cell within the plane's own values.
    assert plane.min() <= got.min() and got.max() <= plane.max()


def test_without_the_library_pages_load_as_before(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(jpeg_planes, "_library", lambda: None)
    page = _pdf_scan(tmp_path, _text_scan())
    loaded = load_page(page, 300, planes=True)
    assert loaded.image.mode == "RGB" and loaded.planes is None
    assert loaded.in_colour() is loaded and loaded.in_grey().image.mode == "L"  # converted once


@needs_library
def test_a_jpeg_file_with_an_exif_rotation_is_left_to_pillow(tmp_path: Path) -> None:
    exif = Image.Exif()
    exif[0x0112] = 6
    (tmp_path / "scan.jpg").write_bytes(_jpeg(_text_scan(), dpi=(150, 150), exif=exif.tobytes()))
    page = describe_pages(scan_case(tmp_path, SYSTEM).inputs[0], SYSTEM)[0]
    loaded = load_page(page, 300, planes=True)
    assert loaded.planes is None and loaded.image.size == (900, 640)  # upright: turned by Pillow's path


@needs_library
def test_a_jpeg_file_loads_as_planes_at_its_scaled_size(tmp_path: Path) -> None:
    im = _text_scan().resize((1280, 1800))
    (tmp_path / "scan.jpg").write_bytes(_jpeg(im, dpi=(600, 600)))  # 600 dpi: libjpeg's 1/2 decode
    page = describe_pages(scan_case(tmp_path, SYSTEM).inputs[0], SYSTEM)[0]
    loaded = load_page(page, 300, planes=True)
    plain = load_page(page, 300)
    assert loaded.planes is not None and loaded.image.size == plain.image.size == (640, 900)
    assert loaded.dpi == pytest.approx(plain.dpi)

"""Mixed raster content: segmentation, layers, and the PDF rendering alike in three renderers."""

from __future__ import annotations

import io
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pikepdf
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageChops, ImageDraw

from fixtures.pages import font, text_page
from packager import mrc
from packager.legibility import effective_dpi_of_pdf, render_pdf_page, ssim

DPI = 200  # the tests' pages: big enough for real strokes, small enough to stay fast


def _page() -> Image.Image:
    """A scanned colour text page with a red seal over its text, a white-on-blue banner
    (inverted text) and a photo-like gradient patch."""
    img, _ = text_page(DPI, colour_seal=True, seed=5)
    img = img.convert("RGB")
    d = ImageDraw.Draw(img)
    d.rectangle((150, 1500, 1500, 1640), fill=(30, 60, 140))
    d.text((180, 1520), "会社案内 White on blue", font=font("gothic", 70), fill=(250, 250, 250))
    yy, xx = np.mgrid[0:300, 0:600]
    patch = np.stack([(xx * 255 // 600), (yy * 255 // 300), 255 - (xx * 255 // 600)], axis=2).astype(np.uint8)
    img.paste(Image.fromarray(patch, "RGB"), (150, 1800))
    return img


@pytest.fixture(scope="module")
def page() -> Image.Image:
    return _page()


@pytest.fixture(scope="module")
def layers(page: Image.Image) -> mrc.Layers:
    result = mrc.segment(page, DPI, 150)
    assert result is not None
    return result


def test_text_goes_to_the_mask_and_the_photo_stays_in_the_background(layers: mrc.Layers) -> None:
    text = ~np.asarray(layers.mask, dtype=bool)  # mask: text = 0
    assert layers.mask.size == (_page().width, _page().height)
    assert 0.002 < text.mean() < 0.2
    # Body text (rows of the first lines) is in the mask.
    assert text[200:600, 150:1500].mean() > 0.01
    # Inverted text: white letters on the blue banner are in the mask, painted light.
    assert text[1520:1600, 180:1400].mean() > 0.05
    # The gradient patch (a photo) is not binarised.
    assert text[1820:2080, 170:730].mean() < 0.002
    # The background is at its own, lower dpi and has the text taken out: the banner area is blue.
    assert layers.background_dpi == pytest.approx(150, abs=1)
    assert layers.background.mode == "YCbCr"  # JPEG's own space: the colour is filled at half resolution
    bg = np.asarray(layers.background.convert("RGB"), dtype=np.int16)
    banner = bg[1530 * 3 // 4 : 1590 * 3 // 4, 200 * 3 // 4 : 1300 * 3 // 4]
    assert np.abs(banner - np.array([30, 60, 140])).max(axis=2).mean() < 40


def test_a_page_without_text_has_no_layers() -> None:
    rng = np.random.default_rng(1)
    paper = np.clip(rng.normal(240, 2, (800, 600, 3)), 0, 255).astype(np.uint8)
    assert mrc.segment(Image.fromarray(paper, "RGB"), DPI, 150) is None
    yy, xx = np.mgrid[0:800, 0:600]
    photo = np.stack([xx * 255 // 600, yy * 255 // 800, (xx + yy) * 255 // 1400], axis=2).astype(np.uint8)
    assert mrc.segment(Image.fromarray(photo, "RGB"), DPI, 150) is None


def test_grey_page_gives_grey_layers() -> None:
    img, _ = text_page(DPI, seed=2)
    result = mrc.segment(img.convert("L"), DPI, 150)
    assert result is not None
    assert result.background.mode == "L" and result.foreground is None and len(result.colour) == 1
    data = mrc.mrc_page_pdf(result, 50)
    with pikepdf.open(io.BytesIO(data)) as pdf:
        names = {str(k) for k in pdf.pages[0].resources.XObject}
    assert names == {"/Bg", "/Mk"}


def test_mrc_is_much_smaller_than_one_jpeg(page: Image.Image, layers: mrc.Layers) -> None:
    buf = io.BytesIO()
    page.save(buf, "JPEG", quality=80)
    assert len(mrc.mrc_page_pdf(layers, 65)) < len(buf.getvalue()) / 2


def test_effective_dpi_counts_the_mask_not_the_colour_image(layers: mrc.Layers, tmp_path: Path) -> None:
    pdf = tmp_path / "p.pdf"
    pdf.write_bytes(mrc.mrc_page_pdf(layers, 50))
    assert layers.foreground is not None  # black text and a red seal: a colour image
    (dpi,) = effective_dpi_of_pdf(pdf)
    assert dpi == pytest.approx(150, abs=1)  # the background's; the text is at 200


def _render_poppler(pdf: Path, dpi: int, tmp: Path) -> Image.Image:
    subprocess.run(["pdftoppm", "-r", str(dpi), "-gray", "-png", str(pdf), str(tmp / "pp")], check=True)
    return Image.open(next(tmp.glob("pp*.png"))).convert("L")


def _render_gs(pdf: Path, dpi: int, tmp: Path) -> Image.Image:
    out = tmp / "gs.png"
    cmd = ["gs", "-q", "-dNOPAUSE", "-dBATCH", "-dSAFER", "-sDEVICE=pnggray", f"-r{dpi}", f"-sOutputFile={out}"]
    subprocess.run([*cmd, str(pdf)], check=True)
    return Image.open(out).convert("L")


@pytest.mark.skipif(not (shutil.which("gs") and shutil.which("pdftoppm")), reason="needs gs and poppler")
def test_pdfium_poppler_and_ghostscript_render_it_alike(page: Image.Image, layers: mrc.Layers, tmp_path: Path) -> None:
    pdf = tmp_path / "p.pdf"
    pdf.write_bytes(mrc.mrc_page_pdf(layers, 65))
    dpi = DPI  # at the mask's own resolution: each renderer maps mask pixels 1:1, no resampling
    views = {
        "pdfium": render_pdf_page(pdf, 0, dpi),
        "poppler": _render_poppler(pdf, dpi, tmp_path),
        "gs": _render_gs(pdf, dpi, tmp_path),
    }
    size = views["pdfium"].size
    views = {k: v.resize(size) if v.size != size else v for k, v in views.items()}
    assert ssim(views["pdfium"], views["poppler"]) >= 0.98
    assert ssim(views["pdfium"], views["gs"]) >= 0.98
    assert ssim(views["poppler"], views["gs"]) >= 0.98
    # And it is the page: against the source at the same size.
    source = page.convert("L").resize(size, Image.Resampling.BOX)
    assert ssim(views["pdfium"], source) >= 0.85
    # The mask's polarity: text is drawn dark, the paper stays light.
    text = ~np.asarray(layers.mask, dtype=bool)[200:600, : size[0]]
    for name, view in views.items():
        body = np.asarray(view, dtype=np.int16)[200:600, : text.shape[1]]
        assert body[text].mean() < 110 and body[~text].mean() > 200, name


def test_same_page_same_bytes(layers: mrc.Layers) -> None:
    assert mrc.mrc_page_pdf(layers, 50) == mrc.mrc_page_pdf(layers, 50)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 255), min_size=1, max_size=400), st.floats(0, 100))
def test_the_percentile_from_the_histogram_is_numpys(values: list[int], q: float) -> None:
    image = Image.fromarray(np.array(values, dtype=np.uint8).reshape(1, -1), "L")
    assert mrc._percentile(image, q) == pytest.approx(float(np.percentile(values, q)), abs=1e-9)


def test_the_two_thirds_reduction_is_pillows_box_of_the_kept_pixels() -> None:
    rng = np.random.default_rng(3)
    grey = rng.integers(0, 256, (240, 300), dtype=np.uint8)
    keep = rng.random((240, 300)) > 0.2
    size = (200, 160)
    p, w, clean = mrc._kept_thirds(grey, keep, size)
    keep_img = Image.fromarray(keep.view(np.uint8) * np.uint8(255), "L")
    premult = ImageChops.darker(Image.fromarray(grey, "L"), keep_img)
    # Pillow rounds after each direction, numpy once: a level apart at most.
    assert np.abs(p.astype(int) - np.asarray(premult.resize(size, Image.Resampling.BOX))).max() <= 1
    assert np.abs(w.astype(int) - np.asarray(keep_img.resize(size, Image.Resampling.BOX))).max() <= 1
    assert (clean == (np.asarray(keep_img.reduce(3)) == 255)).all()


def test_a_300_dpi_page_gives_a_200_dpi_background_and_the_same_bytes_twice() -> None:
    img, _ = text_page(300, colour_seal=True, seed=7)
    first = mrc.segment(img.convert("RGB"), 300, 200)
    again = mrc.segment(img.convert("RGB"), 300, 200)
    assert first is not None and again is not None
    assert first.background_dpi == pytest.approx(200, abs=0.5)
    assert first.background.size == (round(img.width * 2 / 3), round(img.height * 2 / 3))
    assert mrc.mrc_page_pdf(first, 65) == mrc.mrc_page_pdf(again, 65)


def _neighbours_by_definition(mask: np.ndarray) -> np.ndarray:
    """How many of each pixel's 8 neighbours are set (outside the page: not set)."""
    p = np.pad(mask.astype(np.int32), 1)
    h, w = mask.shape
    return sum(p[1 + dy : 1 + dy + h, 1 + dx : 1 + dx + w] for dy in (-1, 0, 1) for dx in (-1, 0, 1)) - mask


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 70), st.integers(1, 200), st.floats(0, 1), st.integers(0, 2**16))
def test_bit_plane_specks_and_dilation_are_the_definitions(h: int, w: int, density: float, seed: int) -> None:
    mask = np.random.default_rng(seed).random((h, w)) < density
    words = -(-(w + 2) // 64)
    plane = mrc._pack(mask, words)
    assert np.array_equal(mrc._unpack(plane, (h, w)), mask)
    n = _neighbours_by_definition(mask)
    assert np.array_equal(mrc._unpack(mrc._clustered(plane), (h, w)), mask & (n >= 2))
    assert np.array_equal(mrc._unpack(mrc._dilate(plane), (h, w)), mask | (n >= 1))
    # Rows and columns beyond the mask (the 2/3 reduction's padding) come back unset.
    assert not mrc._unpack(mrc._clustered(plane), (h + 2, w + 2))[h:].any()


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 40), st.integers(1, 40), st.integers(1, 5), st.integers(0, 2**16))
def test_a_map_by_bands_is_the_map_spread_over_its_blocks(h: int, w: int, step: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    full = rng.integers(0, 256, (h, w), dtype=np.uint8)
    small = rng.integers(0, 256, (-(-h // step), -(-w // step)), dtype=np.uint8)
    spread = np.repeat(np.repeat(small, step, axis=0), step, axis=1)[:h, :w]
    got = mrc._by_bands(np.less, full, mrc._rows(small, step, w), step, np.empty((h, w), bool))
    assert np.array_equal(got, full < spread)


def test_the_g4_strip_is_found_where_pillow_says() -> None:
    mask = Image.fromarray(np.random.default_rng(4).random((90, 70)) > 0.1)
    buf = io.BytesIO()
    mask.save(buf, "TIFF", compression="group4", tiffinfo={278: mask.height})
    tags = mrc._tiff_tags(buf.getvalue())
    with Image.open(io.BytesIO(buf.getvalue())) as tif:
        for tag in (262, 273, 278, 279):
            assert tags[tag] == int(tif.tag_v2[tag][0] if isinstance(tif.tag_v2[tag], tuple) else tif.tag_v2[tag])


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 300), st.integers(1, 30), st.integers(1, 5), st.integers(0, 2**16))
def test_bands_compared_only_where_flagged(h: int, w: int, step: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    full = rng.integers(0, 256, (h, w), dtype=np.uint8)
    small = rng.integers(0, 256, (-(-h // step), -(-w // step)), dtype=np.uint8)
    flags = rng.random(small.shape[0]) < 0.5
    before = rng.random((h, w)) < 0.3
    out = before.copy()
    mrc._in_bands(np.greater, full, small, step, out, flags)
    spread = np.repeat(np.repeat(small, step, axis=0), step, axis=1)[:h, :w]
    where = np.repeat(flags, step)[:h, None]
    assert np.array_equal(out, before | ((full > spread) & where))


def _planes(rgb: Image.Image) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A colour page's Y, Cb, Cr as a 4:2:0 JPEG decoder hands them over: the luma padded to
    even sizes (libjpeg pads it to the chroma's subsampling), Cb and Cr at half size."""
    ycc = rgb.convert("YCbCr")
    w, h = -(-rgb.width // 2) * 2, -(-rgb.height // 2) * 2
    y, cb, cr = (np.pad(np.asarray(c), ((0, h - rgb.height), (0, w - rgb.width)), mode="edge") for c in ycc.split())
    return y, *(np.asarray(Image.fromarray(c, "L").reduce(2)) for c in (cb, cr))  # type: ignore[return-value]


def test_a_page_as_jpeg_planes_gives_the_layers_of_its_rgb() -> None:
    img, _ = text_page(300, colour_seal=True, seed=7)
    page = img.convert("RGB").crop((0, 0, img.width - 1, img.height - 1))  # odd sizes: a padded luma
    planes = _planes(page)
    # The decoder's RGB of the same planes: the chroma repeated over 2 × 2 pixels, converted.
    y, cb, cr = planes
    up = [np.repeat(np.repeat(c, 2, axis=0), 2, axis=1) for c in (cb, cr)]
    ycc = np.stack([y, *up], axis=2)[: page.height, : page.width]
    rgb = Image.fromarray(np.ascontiguousarray(ycc), "YCbCr").convert("RGB")
    from_rgb = mrc.segment(rgb, 300, 200)
    from_planes = mrc.segment(rgb, 300, 200, planes)
    assert from_rgb is not None and from_planes is not None
    assert from_planes.mask.size == rgb.size and from_planes.background.size == from_rgb.background.size
    assert from_planes.background.mode == "YCbCr"
    a, b = (~np.asarray(x.mask, dtype=bool) for x in (from_rgb, from_planes))
    assert np.count_nonzero(a != b) <= 0.01 * np.count_nonzero(a)  # the luma is Pillow's grey to ±1 level
    for i in range(3):
        diff = np.abs(
            np.asarray(from_rgb.background.getchannel(i), dtype=int)
            - np.asarray(from_planes.background.getchannel(i), dtype=int)
        )
        assert diff.mean() < 1.5 and np.percentile(diff, 99) <= 8
    if from_rgb.foreground is None:
        assert from_planes.foreground is None
        assert max(abs(u - v) for u, v in zip(from_rgb.colour, from_planes.colour, strict=True)) <= 8
    else:
        assert from_planes.foreground is not None
        fg = np.abs(np.asarray(from_rgb.foreground, dtype=int) - np.asarray(from_planes.foreground, dtype=int))
        assert fg.mean() < 1
    with pytest.raises(ValueError, match="planes"):
        mrc.segment(rgb, 300, 200, (planes[0][::2, ::2], planes[1], planes[2]))


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 30), st.integers(1, 30), st.sampled_from([1, 2]), st.integers(0, 2**16))
def test_the_text_colour_from_planes_is_the_decoders_rgb(h: int, w: int, sub: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    ycc = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    ch, cw = -(-h // sub), -(-w // sub)
    ycc[..., 1:] = np.repeat(np.repeat(ycc[::sub, ::sub, 1:], sub, axis=0), sub, axis=1)[:h, :w]
    chroma = tuple(np.ascontiguousarray(ycc[::sub, ::sub, i])[:ch, :cw] for i in (1, 2))
    ys, xs = np.divmod(np.arange(h * w), w)
    got = mrc._rgb_at(ycc[..., 0].ravel(), chroma, ys, xs, (h, w))  # type: ignore[arg-type]
    want = np.asarray(Image.fromarray(ycc, "YCbCr").convert("RGB"), dtype=np.float32).reshape(-1, 3)
    assert np.abs(got - want).max() <= 1


def test_the_g4_mask_by_libtiff_renders_as_pillows(
    layers: mrc.Layers, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ours = mrc.mrc_page_pdf(layers, 65)
    with pikepdf.open(io.BytesIO(ours)) as pdf:
        masks = [o for o in pdf.objects if isinstance(o, pikepdf.Stream) and o.get("/ImageMask")]
        assert [str(m.Filter) for m in masks] == ["/CCITTFaxDecode"]
        assert not bool(masks[0].DecodeParms.BlackIs1)  # libtiff's: ink = 1 = fax black
    monkeypatch.setattr(mrc.ccitt, "tiff", lambda *args: None)  # Pillow's writer (paper = 1)
    pillows = mrc.mrc_page_pdf(layers, 65)
    assert len(ours) < len(pillows)
    views = []
    for name, data in (("ours", ours), ("pillow", pillows)):
        (tmp_path / name).write_bytes(data)
        views.append(np.asarray(render_pdf_page(tmp_path / name, 0, DPI)))
    assert np.array_equal(views[0], views[1])


def test_a_mask_flate_holds_smaller_than_g4_goes_as_flate() -> None:
    # A fine regular pattern (a dithered tint taken for text): every pixel a G4 transition,
    # one repeated row pair for Flate.
    checker = (np.indices((400, 640)).sum(axis=0) % 2).astype(bool)
    text = checker.copy()
    mask = Image.fromarray(text)
    pdf = pikepdf.new()
    stream = mrc._mask_stream(pdf, mask, np.packbits(text, axis=1).tobytes())
    assert stream.Filter == pikepdf.Name.FlateDecode
    assert np.array_equal(np.unpackbits(np.frombuffer(stream.read_bytes(), np.uint8)).reshape(400, 640), checker)
    # And a text-like mask goes as G4 (smaller there).
    paper = np.ones((400, 640), bool)
    rng = np.random.default_rng(6)
    for _ in range(200):  # strokes of different sizes, as letters have
        y, x = rng.integers(0, 390), rng.integers(0, 620)
        paper[y : y + rng.integers(2, 10), x : x + rng.integers(2, 20)] = False
    stream = mrc._mask_stream(pdf, Image.fromarray(paper), np.packbits(paper, axis=1).tobytes())
    assert stream.Filter == pikepdf.Name.CCITTFaxDecode

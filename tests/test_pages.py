"""pages: EXIF orientation, dpi estimation, colour modes, and lazy page description."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from packager.intake import scan_case
from packager.pages import describe_pages, exif_orientation, fit_a4_dpi, load_page, raster_dpi
from packager.profiles import load_system_profile

SYSTEM = load_system_profile()


def _jpeg_with_orientation(path: Path, size: tuple[int, int], orientation: int, dpi: int | None = 72) -> None:
    im = Image.new("RGB", size, "white")
    im.paste((200, 0, 0), (0, 0, size[0] // 4, size[1] // 4))  # a red corner: top-left as stored
    exif = Image.Exif()
    exif[0x0112] = orientation
    kwargs: dict[str, object] = {"exif": exif.tobytes(), "quality": 90}
    if dpi:
        kwargs["dpi"] = (dpi, dpi)
    im.save(path, "JPEG", **kwargs)


def _page(tmp_path: Path, name: str):  # type: ignore[no-untyped-def]
    inputs = scan_case(tmp_path, SYSTEM).inputs
    inp = next(i for i in inputs if i.path == name)
    return describe_pages(inp, SYSTEM)[0]


@pytest.mark.parametrize("orientation", [1, 3, 6, 8, 0, 9, 65535])
def test_exif_orientation_applied_and_invalid_values_ignored(tmp_path: Path, orientation: int) -> None:
    _jpeg_with_orientation(tmp_path / "card.jpg", (400, 300), orientation)
    page = _page(tmp_path, "card.jpg")
    loaded = load_page(page, 300)
    upright = loaded.image
    turned = orientation in (6, 8)
    assert upright.size == ((300, 400) if turned else (400, 300))
    assert (page.width_px, page.height_px) == upright.size
    with Image.open(tmp_path / "card.jpg") as im:
        assert exif_orientation(im) == (orientation if 1 <= orientation <= 8 else 1)


def test_phone_photo_72dpi_is_fitted_to_a4(tmp_path: Path) -> None:
    _jpeg_with_orientation(tmp_path / "residence-card.jpg", (4000, 3000), 6, dpi=72)
    page = _page(tmp_path, "residence-card.jpg")
    assert page.dpi_estimated
    assert (page.width_px, page.height_px) == (3000, 4000)
    assert page.width_in <= 8.28 and page.height_in <= 11.70
    assert page.native_dpi == pytest.approx(fit_a4_dpi(3000, 4000))
    assert page.native_dpi > 300


def test_plausible_dpi_is_trusted() -> None:
    assert raster_dpi((300, 300), 2480, 3508, SYSTEM) == (300, False)
    dpi, estimated = raster_dpi((96, 96), 4000, 3000, SYSTEM)
    assert estimated and dpi > 300
    assert raster_dpi(None, 1240, 1754, SYSTEM)[1]


def test_sixteen_bit_grey_is_scaled_not_clipped(tmp_path: Path) -> None:
    arr = np.linspace(0, 65535, 256 * 64, dtype=np.uint16).reshape(64, 256)
    Image.fromarray(arr).save(tmp_path / "scan.png", dpi=(300, 300))
    loaded = load_page(_page(tmp_path, "scan.png"), 300)
    out = np.asarray(loaded.image)
    assert loaded.image.mode == "L"
    assert out.min() == 0 and out.max() == 255 and 100 < out.mean() < 155


def test_alpha_is_flattened_onto_white(tmp_path: Path) -> None:
    Image.new("RGBA", (200, 200), (255, 0, 0, 0)).save(tmp_path / "scan.png", dpi=(300, 300))
    loaded = load_page(_page(tmp_path, "scan.png"), 300)
    assert loaded.image.mode == "RGB"
    assert loaded.image.getpixel((10, 10)) == (255, 255, 255)


def test_cmyk_jpeg_becomes_rgb(tmp_path: Path) -> None:
    Image.new("CMYK", (200, 200), (0, 255, 255, 0)).save(tmp_path / "seal.jpg", dpi=(300, 300))
    loaded = load_page(_page(tmp_path, "seal.jpg"), 300)
    r, g, b = loaded.image.getpixel((100, 100))
    assert loaded.image.mode == "RGB" and r > 200 and g < 60 and b < 60


def test_600dpi_jpeg_is_decoded_at_300(tmp_path: Path) -> None:
    Image.new("L", (4960, 7016), 255).save(tmp_path / "scan.jpg", dpi=(600, 600))
    loaded = load_page(_page(tmp_path, "scan.jpg"), 300)
    assert loaded.dpi == pytest.approx(300, rel=0.01)
    assert loaded.image.width == pytest.approx(2480, abs=2)


def test_multipage_tiff_pages(tmp_path: Path) -> None:
    frames = [Image.new("L", (850, 1100), v) for v in (255, 128, 0)]
    frames[0].save(tmp_path / "family-register.tif", save_all=True, append_images=frames[1:], dpi=(100, 100))
    inp = scan_case(tmp_path, SYSTEM).inputs[0]
    pages = describe_pages(inp, SYSTEM)
    assert [p.page_index for p in pages] == [0, 1, 2]
    assert load_page(pages[2], 300).image.getpixel((5, 5)) == 0


def test_pdf_page_size_and_dpi(tmp_path: Path) -> None:
    import img2pdf

    buf = io.BytesIO()
    Image.new("L", (1654, 2339), 255).save(buf, "PNG", dpi=(200, 200))
    (tmp_path / "scan.pdf").write_bytes(img2pdf.convert(buf.getvalue()))
    page = _page(tmp_path, "scan.pdf")
    assert page.native_dpi == pytest.approx(200, rel=0.01)
    assert page.width_in == pytest.approx(8.27, abs=0.01)


@pytest.mark.parametrize(
    ("name", "save"),
    [
        ("scan.webp", {"format": "WEBP", "quality": 90}),
        ("scan.bmp", {"format": "BMP"}),
        ("scan-lzw.tif", {"format": "TIFF", "compression": "tiff_lzw"}),
        ("scan-jpeg.tif", {"format": "TIFF", "compression": "jpeg"}),
        ("scan-raw.tif", {"format": "TIFF"}),
    ],
)
def test_other_raster_formats_load(tmp_path: Path, name: str, save: dict[str, object]) -> None:
    from fixtures.pages import text_page

    image, _ = text_page(150, seed=1, size_mm=(105, 148), noise=False)
    image.convert("RGB").save(tmp_path / name, dpi=(150, 150), **save)
    inputs = scan_case(tmp_path, SYSTEM).inputs
    assert [i.path for i in inputs] == [name]
    loaded = load_page(describe_pages(inputs[0], SYSTEM)[0], 300)
    assert loaded.image.size == image.size
    assert np.asarray(loaded.image.convert("L")).min() < 80  # the text survived


def test_g4_tiff_loads(tmp_path: Path) -> None:
    from fixtures.pages import text_page

    image, _ = text_page(300, seed=2, size_mm=(105, 148), noise=False)
    image.convert("1").save(tmp_path / "fax.tif", compression="group4", dpi=(300, 300))
    inp = scan_case(tmp_path, SYSTEM).inputs[0]
    loaded = load_page(describe_pages(inp, SYSTEM)[0], 300)
    assert loaded.image.mode == "L" and loaded.dpi == pytest.approx(300)


def test_heic_phone_photo_loads(corpus: Path, tmp_path: Path) -> None:
    (tmp_path / "photo.heic").write_bytes((corpus / "d06_simple.heic").read_bytes())
    inp = scan_case(tmp_path, SYSTEM).inputs[0]
    assert inp.format == "heif"
    page = describe_pages(inp, SYSTEM)[0]
    loaded = load_page(page, 300)
    assert loaded.image.mode == "RGB" and loaded.image.size == (page.width_px, page.height_px)


def test_png_exif_orientation_is_read_without_decoding(tmp_path: Path) -> None:
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.new("RGB", (400, 300), "white").save(tmp_path / "card.png", exif=exif.tobytes(), dpi=(300, 300))
    page = _page(tmp_path, "card.png")
    assert (page.width_px, page.height_px) == (300, 400)
    assert load_page(page, 300).image.size == (300, 400)


def test_a_page_only_pdfium_sees_is_described_and_rendered_by_pdfium(tmp_path: Path) -> None:
    """qpdf finds no page in this page tree, PDFium finds one: intake picks PDFium, and pages
    describes and renders the page with it (nothing lost, nothing copied by qpdf)."""
    from fixtures.broken import make_broken_inputs
    from packager.intake import scan_case

    make_broken_inputs(tmp_path)
    for name in list(p.name for p in tmp_path.iterdir()):
        if name != "page-tree-wrong-generation.pdf":
            (tmp_path / name).unlink()
    (inp,) = scan_case(tmp_path, SYSTEM).inputs
    assert (inp.page_count, inp.pdf_reader) == (1, "pdfium")
    (page,) = describe_pages(inp, SYSTEM)
    assert abs(page.width_in - 8.27) < 0.05 and abs(page.native_dpi - 100) < 1
    loaded = load_page(page, 100)
    assert loaded.image.size[0] == pytest.approx(827, abs=3)
    assert min(loaded.image.convert("L").getextrema()) < 100  # the text is there


def _pdf_with_pages(path: Path, count: int) -> None:
    import pikepdf

    with pikepdf.new() as pdf:
        for _ in range(count):
            pdf.add_blank_page(page_size=(200, 300))
        pdf.save(path)


def test_a_pdf_is_opened_once_per_process_and_again_when_replaced_or_forked(tmp_path: Path) -> None:
    """open_pdf keeps one handle per file; a file rewritten under its name is read anew, and a
    forked child opens its own (never reads through its parent's file offset)."""
    import multiprocessing
    import os

    from packager.pages import close_open_pdfs, open_pdf

    path = tmp_path / "scan.pdf"
    _pdf_with_pages(path, 2)
    first = open_pdf(path)
    assert open_pdf(path) is first and len(first.pages) == 2
    _pdf_with_pages(path, 3)
    os.utime(path, ns=(1, 1))  # a different mtime for sure, even within the clock's resolution
    again = open_pdf(path)
    assert again is not first and len(again.pages) == 3

    def child(conn) -> None:  # type: ignore[no-untyped-def]
        conn.send(open_pdf(path) is not again and len(open_pdf(path).pages) == 3)

    parent_end, child_end = multiprocessing.get_context("fork").Pipe()
    proc = multiprocessing.get_context("fork").Process(target=child, args=(child_end,))
    proc.start()
    assert parent_end.recv() is True
    proc.join()
    assert open_pdf(path) is again  # the parent's handle is still its own
    close_open_pdfs()
    assert open_pdf(path) is not again
    close_open_pdfs()

"""Tests of packager.legibility: the measures the benchmark and the quality gates rely on."""

from __future__ import annotations

import math
import random
import shutil
from pathlib import Path

import img2pdf
import pytest
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from packager.legibility import (
    character_error_rate,
    edit_distance,
    effective_dpi_of_pdf,
    normalise_text,
    ocr_text,
    page_image,
    render_image_file,
    render_pdf_page,
    ssim,
)

MINCHO = Path("/usr/share/fonts/opentype/ipaexfont-mincho/ipaexm.ttf")

LINES = [
    "在職証明書",
    "氏名 山田太郎 生年月日 1987年3月5日",
    "上記の者は当社に正社員として在職していることを証明します。",
    "入社年月日 2019年4月1日 職務内容 ソフトウェア開発",
    "Certificate of Employment: Engineer / Specialist in Humanities",
    "株式会社サンプル 東京都千代田区霞が関1-1-1",
]


def _reference_dp(a: str, b: str) -> int:
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i] + [0] * len(b)
        for j, cb in enumerate(b, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb))
        prev = cur
    return prev[-1]


def _text_page(dpi: int = 300, pt: float = 11.0) -> Image.Image:
    """A5-wide strip of Mincho text at `pt`, drawn at `dpi` (seeded content, no randomness)."""
    font = ImageFont.truetype(str(MINCHO), round(pt / 72 * dpi))
    width = round(6.5 * dpi)
    line_h = round(pt / 72 * dpi * 1.8)
    image = Image.new("L", (width, line_h * (len(LINES) + 2)), 255)
    draw = ImageDraw.Draw(image)
    for i, line in enumerate(LINES):
        draw.text((round(0.4 * dpi), line_h * (i + 1)), line, font=font, fill=0)
    image.info["dpi"] = (dpi, dpi)
    return image


# --- character error rate -------------------------------------------------------------------


def test_cer_identical_is_zero() -> None:
    assert character_error_rate("在職証明書 2026年", "在職証明書 2026年") == 0.0


def test_cer_known_edits() -> None:
    assert character_error_rate("abcd", "abxd") == pytest.approx(0.25)  # one substitution
    assert character_error_rate("abcd", "abd") == pytest.approx(0.25)  # one deletion
    assert character_error_rate("abcd", "abcde") == pytest.approx(0.25)  # one insertion
    assert character_error_rate("kitten", "sitting") == pytest.approx(3 / 6)
    assert character_error_rate("証明書", "") == 1.0
    assert character_error_rate("", "") == 0.0
    assert character_error_rate("", "noise") == 1.0


def test_cer_ignores_whitespace_and_width() -> None:
    # tesseract spaces Japanese arbitrarily; full-width digits/letters fold under NFKC.
    assert character_error_rate("氏名 山田 太郎", "氏名山田太郎\n") == 0.0
    assert character_error_rate("２０２６年ＡＢ", "2026年 AB") == 0.0
    assert normalise_text(" a\tb\u3000c\n") == "abc"


def test_edit_distance_matches_dynamic_programming() -> None:
    rng = random.Random(7)
    alphabet = "abc漢字かな 1"
    for _ in range(500):
        a = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 90)))
        b = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 90)))
        assert edit_distance(a, b) == _reference_dp(a, b)


def test_edit_distance_long_pages_fast() -> None:
    rng = random.Random(3)
    a = "".join(rng.choice("あいうえお漢字経費税額0123") for _ in range(4000))
    b = "".join(c if rng.random() > 0.1 else "x" for c in a)
    d = edit_distance(a, b)
    assert 0 < d <= 4000 * 0.15


# --- SSIM -----------------------------------------------------------------------------------


def test_ssim_identical_is_one_and_blur_lower() -> None:
    page = _text_page(dpi=150)
    assert ssim(page, page) == pytest.approx(1.0)
    blurred = page.filter(ImageFilter.GaussianBlur(2))
    value = ssim(page, blurred)
    assert value < 0.95
    assert ssim(page, page.filter(ImageFilter.GaussianBlur(4))) < value


def test_ssim_resizes_second_image() -> None:
    page = _text_page(dpi=150)
    bigger = page.resize((page.width * 2, page.height * 2), Image.Resampling.LANCZOS)
    assert ssim(page, bigger) > 0.9


# --- rendering and effective dpi ------------------------------------------------------------


def test_effective_dpi_of_full_page_image(tmp_path: Path) -> None:
    page = _text_page(dpi=300)
    png = tmp_path / "p.png"
    page.save(png, dpi=(300, 300))
    pdf = tmp_path / "p.pdf"
    pdf.write_bytes(img2pdf.convert(str(png)))
    (dpi,) = effective_dpi_of_pdf(pdf)
    assert dpi == pytest.approx(300, rel=0.01)
    rendered = render_pdf_page(pdf, 0, 150)
    assert rendered.mode == "L"
    assert rendered.width == pytest.approx(page.width / 2, abs=2)


def test_effective_dpi_of_vector_page_is_infinite(tmp_path: Path) -> None:
    import pikepdf

    pdf = pikepdf.new()
    pdf.add_blank_page(page_size=(595, 842))
    path = tmp_path / "blank.pdf"
    pdf.save(path)
    assert effective_dpi_of_pdf(path) == [math.inf]


def test_render_image_file_applies_exif_orientation(tmp_path: Path) -> None:
    image = Image.new("RGB", (40, 20), "white")
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise on display
    path = tmp_path / "photo.jpg"
    image.save(path, exif=exif, dpi=(100, 100))
    upright = render_image_file(path, 0)
    assert upright.size == (20, 40)
    assert render_image_file(path, 0, dpi=200).size == (40, 80)


def test_render_image_file_tiff_frames(tmp_path: Path) -> None:
    frames = [Image.new("L", (30 + 10 * i, 30), 255) for i in range(3)]
    path = tmp_path / "multi.tif"
    frames[0].save(path, save_all=True, append_images=frames[1:])
    assert render_image_file(path, 2).size == (50, 30)


# --- OCR ------------------------------------------------------------------------------------


@pytest.mark.skipif(shutil.which("tesseract") is None or not MINCHO.exists(), reason="needs tesseract and IPAex")
def test_ocr_of_clean_text_reads_well() -> None:
    page = _text_page(dpi=300)
    text = ocr_text(page)
    cer = character_error_rate("\n".join(LINES), text)
    assert cer < 0.05, (cer, text)


def test_effective_dpi_follows_ctm_and_inline_images(tmp_path: Path) -> None:
    import pikepdf

    pdf = pikepdf.new()
    pdf.add_blank_page(page_size=(200, 200))
    pixels = b"\xff" * (20 * 10)
    # a 20×10 px inline image drawn 1 in × 0.5 in: 20 dpi both ways
    content = b"q 72 0 0 36 0 0 cm BI /W 20 /H 10 /BPC 8 /CS /G ID " + pixels + b" EI Q"
    pdf.pages[0].obj.Contents = pdf.make_stream(content)
    path = tmp_path / "inline.pdf"
    pdf.save(path)
    assert effective_dpi_of_pdf(path) == [pytest.approx(20.0)]


def test_page_image_returns_stored_pixels_of_a_scan_page(tmp_path: Path) -> None:
    import numpy as np
    import pikepdf

    page = _text_page(dpi=300)
    png = tmp_path / "p.png"
    page.save(png, dpi=(300, 300))
    pdf = tmp_path / "p.pdf"
    pdf.write_bytes(img2pdf.convert(str(png)))
    stored = page_image(pdf, 0)
    assert stored is not None
    assert stored.info["dpi"][0] == pytest.approx(300, rel=0.01)
    assert np.array_equal(np.asarray(stored), np.asarray(page))  # not resampled, unlike a render

    vector = pikepdf.new()
    vector.add_blank_page(page_size=(595, 842))
    vector.pages[0].obj.Contents = vector.make_stream(b"0 0 m 100 100 l S")
    vector_path = tmp_path / "vector.pdf"
    vector.save(vector_path)
    assert page_image(vector_path, 0) is None


def test_page_image_applies_page_rotation(tmp_path: Path) -> None:
    import numpy as np
    import pikepdf

    page = _text_page(dpi=150)
    png = tmp_path / "p.png"
    page.save(png, dpi=(150, 150))
    pdf_path = tmp_path / "p.pdf"
    pdf_path.write_bytes(img2pdf.convert(str(png)))
    with pikepdf.open(pdf_path, allow_overwriting_input=True) as pdf:
        pdf.pages[0].obj.Rotate = 90
        pdf.save(pdf_path)
    stored = page_image(pdf_path, 0)
    assert stored is not None
    rendered = render_pdf_page(pdf_path, 0, 150)
    # turned clockwise, as a viewer shows it (pdfium's render may round up by a pixel)
    assert abs(stored.width - rendered.width) <= 1 and abs(stored.height - rendered.height) <= 1
    assert np.array_equal(np.asarray(stored), np.asarray(page.transpose(Image.Transpose.ROTATE_270)))

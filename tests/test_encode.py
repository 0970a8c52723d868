"""encode: every rung of a page's ladder, measured; sixteen and four grey levels and G4 for text pages."""

from __future__ import annotations

import io
import os
from dataclasses import replace
from pathlib import Path

import numpy as np
import pikepdf
import pytest
from PIL import Image, ImageDraw, ImageFilter

from fixtures.documents import _NOTES
from fixtures.pages import encode_jpeg, id_photo, photo_page, text_page
from packager.classify import binarise, four_levels, sixteen_levels
from packager.encode import PageTask, _image_pdf, analyse_page, encode_image, original_page_pdf, spool_path
from packager.intake import scan_case
from packager.model import Encoding, PageAnalysis
from packager.pages import describe_pages
from packager.profiles import load_system_profile

SYSTEM = load_system_profile()


def _analyse(case: Path, name: str, spool: Path, rungs: tuple[int, ...] | None = (1, 2)) -> PageAnalysis:
    inp = next(i for i in scan_case(case, SYSTEM).inputs if i.path == name)
    page = describe_pages(inp, SYSTEM)[0]
    spool.mkdir(exist_ok=True)
    task = PageTask(
        page=page,
        task_id="t0",
        ladders=SYSTEM.ladders,
        max_dpi=SYSTEM.max_dpi,
        colour_hint=False,
        spool_dir=spool,
        rungs=rungs,
        first_pass=SYSTEM.first_pass_rungs,
    )
    result = analyse_page(task)
    assert isinstance(result, PageAnalysis)
    return result


def test_four_levels_whitens_paper_and_keeps_faint_strokes() -> None:
    image, _ = text_page(300, seed=3, size_mm=(105, 74), pt=7, faint=True)
    levels = np.asarray(four_levels(image))
    assert set(np.unique(levels)) <= {0, 1, 2, 3}
    assert (levels == 3).mean() > 0.85  # the scanner's paper tint and noise are white now
    assert (levels <= 1).sum() > 1000  # faint 7 pt strokes are still there, dark
    # Stroke edges keep an intermediate level: what G4 throws away.
    assert ((levels == 1) | (levels == 2)).sum() > 0.2 * (levels == 0).sum()


def _notes_page(seed: int) -> Image.Image:
    """6.5 pt notes as a slightly soft scan: strokes about as wide as their grey edges."""
    image, _ = text_page(300, lines=[n[:40] for n in _NOTES[:8]], pt=6.5, seed=seed, size_mm=(148, 105))
    return image.filter(ImageFilter.GaussianBlur(0.6))


def test_text_page_gets_sixteen_then_four_levels_then_g4(tmp_path: Path) -> None:
    case = tmp_path / "case"
    case.mkdir()
    image = _notes_page(seed=1)
    image.save(case / "contract.tif", compression="tiff_lzw", dpi=(300, 300))  # no stream to keep
    analysis = _analyse(case, "contract.tif", tmp_path / "spool", rungs=(1, 2, 3))
    assert analysis.page_class.name == "bilevel"
    labels = [c.encoding.label for c in analysis.candidates]
    assert labels == ["flate-grey4@300", "flate-grey2@300", "g4@300"]
    grey4, grey2, g4 = analysis.candidates
    # Each rung smaller than the one above; four levels cost a few times G4, sixteen a few times four.
    assert g4.bytes_ < grey2.bytes_ < 6 * g4.bytes_
    assert grey2.bytes_ < grey4.bytes_ < 6 * grey2.bytes_
    for index, bits in ((1, 4), (2, 2)):
        with pikepdf.open(spool_path(tmp_path / "spool", "t0", index)) as pdf:
            (raw,) = pdf.pages[0].images.values()
            assert raw.BitsPerComponent == bits and raw.ColorSpace == "/DeviceGray" and raw.Filter == "/FlateDecode"
            shown = np.asarray(pikepdf.PdfImage(raw).as_pil_image().convert("L"))
            assert shown.shape == (image.height, image.width)
            step = 255 // (2**bits - 1)  # level k is shown as k·17 (4 bits) or k·85 (2 bits)
            assert set(np.unique(shown)) == {k * step for k in range(2**bits)}  # every level used


def test_first_pass_gives_sixteen_levels_to_thin_print_only(tmp_path: Path) -> None:
    """The first pass makes both grey rungs of a page of thin print (first_pass bilevel = 2: a
    case that fits only with some pages at four levels needs no second pass); a page of
    ordinary print gets four levels only, and sixteen count as tried (no later pass makes them)."""
    case = tmp_path / "case"
    case.mkdir()
    _notes_page(seed=5).save(case / "notes.tif", compression="tiff_lzw", dpi=(300, 300))
    letter, _ = text_page(300, seed=5, size_mm=(148, 105), pt=10.5)
    letter.save(case / "letter.tif", compression="tiff_lzw", dpi=(300, 300))
    notes = _analyse(case, "notes.tif", tmp_path / "spool", rungs=None)
    assert [(c.encoding.label, c.spool_index) for c in notes.candidates] == [
        ("flate-grey4@300", 1),
        ("flate-grey2@300", 2),
    ]
    plain = _analyse(case, "letter.tif", tmp_path / "spool2", rungs=None)
    assert [(c.encoding.label, c.spool_index) for c in plain.candidates] == [("flate-grey2@300", 2)]
    assert plain.tried == (1, 2)


def test_two_valued_source_gets_lossless_g4_at_its_own_pixels(tmp_path: Path) -> None:
    """A 1-bit scan has no grey edges: the first rung becomes G4, which holds it exactly —
    at the scan's own pixels when its dpi was only estimated (not downsampled and rethresholded)."""
    case = tmp_path / "case"
    case.mkdir()
    image, _ = text_page(300, seed=2, pt=9)
    bilevel = binarise(image)
    bilevel.save(case / "register.tif", compression="tiff_lzw", dpi=(300, 300))
    bilevel.resize((2828, 4000)).save(case / "typewriter.tif")  # no dpi tag: fitted to A4, ~342 dpi
    analysis = _analyse(case, "register.tif", tmp_path / "spool", rungs=None)  # first pass: rungs 1–2
    # No grey edges: sixteen levels do not apply, and four levels become G4.
    assert [(c.encoding.label, c.spool_index) for c in analysis.candidates] == [("g4@300", 2)]
    with Image.open(io.BytesIO(_only_image_bytes(spool_path(tmp_path / "spool", "t0", 2)))) as im:
        assert np.array_equal(np.asarray(im.convert("L")), np.asarray(bilevel.convert("L")))
    analysis = _analyse(case, "typewriter.tif", tmp_path / "spool2", rungs=None)
    (only,) = analysis.candidates  # the best rung that applies keeps every pixel
    assert only.encoding.method == "g4" and (only.width_px, only.height_px) == (2828, 4000)


def _only_image_bytes(pdf_path: Path) -> bytes:
    """The page's one image as a G4 TIFF, via pikepdf's extraction."""
    with pikepdf.open(pdf_path) as pdf:
        (raw,) = pdf.pages[0].images.values()
        buf = io.BytesIO()
        pikepdf.PdfImage(raw).extract_to(stream=buf)
        return buf.getvalue()


def test_encode_image_g4_and_four_levels_are_lossless_to_their_reduction() -> None:
    image, _ = text_page(300, seed=4, size_mm=(60, 40), pt=8)
    g4 = Image.open(io.BytesIO(encode_image(image, Encoding("g4", dpi=300))))
    assert np.array_equal(np.asarray(g4.convert("L")), np.asarray(binarise(image).convert("L")))
    png = Image.open(io.BytesIO(encode_image(image, Encoding("flate-grey2", dpi=300))))
    # Read back as 8-bit grey: level k of 0–3 is shown as 85·k.
    assert np.array_equal(np.asarray(png), np.asarray(four_levels(image)) * 85)
    data = encode_image(image, Encoding("flate-grey4", dpi=300))
    assert data[24] == 4  # the PNG header's bit depth: 4 bits a pixel, as the PDF will hold it
    png = Image.open(io.BytesIO(data))
    # Level k of 0–15 is shown as 17·k.
    assert np.array_equal(np.asarray(png), np.asarray(sixteen_levels(image)) * 17)


def test_png_is_kept_as_it_is_when_it_can_be(tmp_path: Path) -> None:
    """A PNG's compressed pixels go into the PDF unchanged (the original, lossless); with alpha
    there is no such stream, and a first look that only wanted originals still encodes rungs."""
    case = tmp_path / "case"
    case.mkdir()
    image, _ = text_page(300, seed=6, size_mm=(105, 74), pt=8)
    image.save(case / "certificate.png", dpi=(300, 300))
    image.convert("LA").save(case / "with-alpha.png", dpi=(300, 300))
    kept = _analyse(case, "certificate.png", tmp_path / "spool", rungs=())
    assert [c.encoding.label for c in kept.candidates] == ["original"]
    with pikepdf.open(spool_path(tmp_path / "spool", "t0", 0)) as pdf:
        (raw,) = pdf.pages[0].images.values()
        assert raw.Filter == "/FlateDecode"
        shown = pikepdf.PdfImage(raw).as_pil_image()
        assert np.array_equal(np.asarray(shown.convert("L")), np.asarray(image))
    flattened = _analyse(case, "with-alpha.png", tmp_path / "spool2", rungs=())
    assert [c.encoding.label for c in flattened.candidates] == ["flate-grey2@300"]


def test_lossless_candidate_when_the_case_will_fit_and_no_stream_can_be_kept(tmp_path: Path) -> None:
    """A page with nothing to pass through (here a PNG with alpha) gets a lossless Flate
    candidate first when the case will likely fit: nothing lost that the budget could keep."""
    case = tmp_path / "case"
    case.mkdir()
    image, _ = text_page(300, seed=7, size_mm=(105, 74), pt=8)
    image.convert("LA").save(case / "screenshot.png", dpi=(300, 300))
    inp = scan_case(case, SYSTEM).inputs[0]
    page = describe_pages(inp, SYSTEM)[0]
    spool = tmp_path / "spool"
    spool.mkdir()
    task = PageTask(page, "t0", SYSTEM.ladders, SYSTEM.max_dpi, False, spool, lossless=True)
    result = analyse_page(task)
    assert isinstance(result, PageAnalysis)
    assert result.candidates[0].encoding.label == "lossless@300"
    with pikepdf.open(spool_path(spool, "t0", 0)) as pdf:
        (raw,) = pdf.pages[0].images.values()
        shown = pikepdf.PdfImage(raw).as_pil_image()
        assert np.array_equal(np.asarray(shown.convert("L")), np.asarray(image))


def test_no_lossless_candidate_for_a_phone_sized_photo(tmp_path: Path) -> None:
    """A 12 MP colour photo as Flate would be ~25 MB by itself: not worth encoding."""
    case = tmp_path / "case"
    case.mkdir()
    id_photo(seed=3, width_px=3000, height_px=4000).save(case / "card.tif", compression="tiff_lzw")
    inp = scan_case(case, SYSTEM).inputs[0]
    spool = tmp_path / "spool"
    spool.mkdir()
    page = describe_pages(inp, SYSTEM)[0]
    task = PageTask(page, "t0", SYSTEM.ladders, SYSTEM.max_dpi, True, spool, lossless=True, first_pass={"colour": 1})
    result = analyse_page(task)
    assert isinstance(result, PageAnalysis)
    assert [c.encoding.method for c in result.candidates] == ["jpeg-colour"]


def test_colour_text_page_gets_mrc_first_and_no_bigger_jpeg(tmp_path: Path) -> None:
    case = tmp_path / "case"
    case.mkdir()
    image, _ = text_page(300, seed=4, colour_seal=True, pt=9)
    image.save(case / "certificate.tif", compression="tiff_lzw", dpi=(300, 300))
    analysis = _analyse(case, "certificate.tif", tmp_path / "spool", rungs=None)  # the first pass
    assert analysis.page_class.name == "colour"
    (first,) = analysis.candidates
    assert first.encoding.label == "mrc@300/200q65" and first.dpi == 300
    # A second pass: the lower MRC rung, and no whole-page JPEG (each is larger than the MRC page).
    ladder = SYSTEM.ladders["colour"]
    again = analyse_page(
        PageTask(
            page=analysis.page,
            task_id="t0",
            ladders=SYSTEM.ladders,
            max_dpi=300,
            colour_hint=False,
            spool_dir=tmp_path / "spool",
            rungs=tuple(range(2, len(ladder) + 1)),
            first_look=analysis,
        )
    )
    assert isinstance(again, PageAnalysis)
    labels = [c.encoding.label for c in again.candidates]
    assert labels[:2] == ["mrc@300/200q65", "mrc@300/200q40"]
    mrc_bytes = min(c.bytes_ for c in again.candidates[:2])
    assert all(c.bytes_ < mrc_bytes for c in again.candidates[2:])


def test_photo_without_text_skips_mrc_to_the_jpeg_rungs(tmp_path: Path) -> None:
    case = tmp_path / "case"
    case.mkdir()
    yy, xx = np.mgrid[0:1754, 0:1240]
    photo = np.stack([xx * 255 // 1240, yy * 255 // 1754, (xx + yy) * 255 // 3000], axis=2).astype(np.uint8)
    Image.fromarray(photo, "RGB").save(case / "picture.tif", compression="tiff_lzw", dpi=(150, 150))
    analysis = _analyse(case, "picture.tif", tmp_path / "spool", rungs=None)
    assert analysis.page_class.name == "colour"
    assert [c.encoding.method for c in analysis.candidates] == ["jpeg-colour"]
    assert analysis.candidates[0].spool_index == 3


def test_a_page_only_looked_at_gets_its_mrc_rung_when_encoded_later(tmp_path: Path) -> None:
    """The first pass may only look at a page (keep its original) and encode it in a later wave
    or pass: that one must still try MRC, which the look never tried."""
    case = tmp_path / "case"
    case.mkdir()
    image, _ = text_page(300, seed=4, colour_seal=True, pt=9)
    image.save(case / "certificate.jpg", quality=95, dpi=(300, 300))
    look = _analyse(case, "certificate.jpg", tmp_path / "spool", rungs=())
    assert [c.encoding.method for c in look.candidates] == ["original"] and look.tried == ()
    later = analyse_page(PageTask(look.page, "t0", SYSTEM.ladders, SYSTEM.max_dpi, False, tmp_path / "spool",
                                  first_pass=SYSTEM.first_pass_rungs, first_look=look))
    assert isinstance(later, PageAnalysis)
    assert [c.encoding.label for c in later.candidates] == ["original", "mrc@300/200q65"]
    assert later.tried == (1,)


def test_only_a_source_jpeg_is_turned_by_its_exif_orientation(tmp_path: Path) -> None:
    """img2pdf honours a camera JPEG's EXIF rotation in the original; the images encoded here are
    upright already and are embedded as they are (it does not look at them)."""
    case = tmp_path / "case"
    case.mkdir()
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to view"
    Image.new("RGB", (400, 300), "white").save(case / "card.jpg", exif=exif.tobytes(), dpi=(300, 300))
    page = describe_pages(next(i for i in scan_case(case, SYSTEM).inputs if i.path == "card.jpg"), SYSTEM)[0]
    original = original_page_pdf(page)
    assert original is not None
    with pikepdf.open(io.BytesIO(original)) as pdf:
        assert int(pdf.pages[0].obj.get("/Rotate", 0)) == 90
    encoded = _image_pdf(encode_image(Image.new("L", (400, 300), 255), Encoding("flate-grey2", dpi=300)), 300)
    with pikepdf.open(io.BytesIO(encoded)) as pdf:
        assert int(pdf.pages[0].obj.get("/Rotate", 0)) == 0


def _look_with_dpis(tmp_path: Path, image: Image.Image, monkeypatch) -> tuple[PageAnalysis, list[float]]:  # type: ignore[no-untyped-def]
    """A page kept as it is (rungs ()), and the dpis its pixels were asked at."""
    from packager import encode

    case = tmp_path / "case"
    case.mkdir(parents=True)
    image.save(case / "page.jpg", quality=92, dpi=(300, 300))
    asked: list[float] = []
    real = encode.load_page

    def recording(page, max_dpi, *args, **kwargs):  # type: ignore[no-untyped-def]
        asked.append(max_dpi)
        return real(page, max_dpi, *args, **kwargs)

    monkeypatch.setattr(encode, "load_page", recording)
    inp = next(i for i in scan_case(case, SYSTEM).inputs if i.path == "page.jpg")
    spool = tmp_path / "spool"
    spool.mkdir()
    task = PageTask(describe_pages(inp, SYSTEM)[0], "t0", SYSTEM.ladders, SYSTEM.max_dpi, False, spool, rungs=())
    result = analyse_page(task)
    assert isinstance(result, PageAnalysis)
    return result, asked


def test_a_page_kept_as_it_is_is_classified_from_an_eighth_scale_decode(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    image, _ = text_page(300, seed=3, pt=10)
    look, asked = _look_with_dpis(tmp_path, image, monkeypatch)
    assert asked == [37.5]
    assert (look.page_class.name, look.rough_class) == ("bilevel", True)
    assert [c.encoding.method for c in look.candidates] == ["original"]


def test_a_page_that_may_be_blank_is_looked_at_closely_and_a_small_mark_keeps_it(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from fixtures.pages import blank_page, font

    blank, asked = _look_with_dpis(tmp_path / "a", blank_page(300, noise=True, seed=1), monkeypatch)
    assert asked == [37.5, 150] and blank.page_class.name == "blank" and blank.candidates == ()
    marked = blank_page(300, noise=True, seed=1)
    ImageDraw.Draw(marked).text((1200, 2000), "済", font=font("mincho", 22), fill=90)  # one 5 pt character
    kept, asked = _look_with_dpis(tmp_path / "b", marked, monkeypatch)
    assert asked == [37.5, 150]
    assert kept.page_class.name != "blank" and not kept.rough_class and len(kept.candidates) == 1


@pytest.mark.parametrize("ink", [(90, 90, 90), (200, 40, 40)])
def test_a_colour_scan_that_may_be_blank_keeps_a_small_mark_grey_or_red(tmp_path: Path, monkeypatch, ink) -> None:  # type: ignore[no-untyped-def]
    """The closer look at a colour scan comes as the JPEG's planes (its luma alone where the
    chroma is quiet): a blank back is blank, and one small character — grey, or red, which
    makes the chroma speak — keeps the page."""
    from fixtures.pages import blank_page, font

    blank, _ = _look_with_dpis(tmp_path / "a", blank_page(300, noise=True, seed=2).convert("RGB"), monkeypatch)
    assert blank.page_class.name == "blank" and blank.candidates == ()
    marked = blank_page(300, noise=True, seed=2).convert("RGB")
    ImageDraw.Draw(marked).text((1200, 2000), "済", font=font("mincho", 22), fill=ink)  # one 5 pt character
    kept, asked = _look_with_dpis(tmp_path / "b", marked, monkeypatch)
    assert asked == [37.5, 150]
    assert kept.page_class.name != "blank" and len(kept.candidates) == 1


def test_a_rough_class_is_replaced_when_the_page_is_encoded_later(tmp_path: Path) -> None:
    """A red seal may be too small for the 1/8-scale view: a page that look called bilevel is
    classified again from the pixels a later pass decodes, and gets the colour ladder (MRC)."""
    case = tmp_path / "case"
    case.mkdir()
    image, _ = text_page(300, seed=4, colour_seal=True, pt=9)
    image.save(case / "certificate.jpg", quality=95, dpi=(300, 300))
    look = _analyse(case, "certificate.jpg", tmp_path / "spool", rungs=())
    wrong = replace(look, page_class=replace(look.page_class, name="bilevel"), rough_class=True)
    later = analyse_page(PageTask(look.page, "t0", SYSTEM.ladders, SYSTEM.max_dpi, False, tmp_path / "spool",
                                  first_pass=SYSTEM.first_pass_rungs, first_look=wrong))
    assert isinstance(later, PageAnalysis)
    assert later.page_class.name == "colour" and not later.rough_class
    assert [c.encoding.label for c in later.candidates] == ["original", "mrc@300/200q65"]


def test_a_rung_made_beside_a_phone_photos_best_rung_is_the_one_made_alone(tmp_path: Path) -> None:
    """A photo with no dpi tag is fitted to A4 (2800 px wide: 338.7 dpi, an estimate): its best
    rung keeps every pixel, its next rung is resized to 300 dpi. Made in one task with the best
    rung or alone (a first pass's extra rung or a second pass), the next rung is the same — it
    is resized from the page's own 338.7 dpi, not from the 339 its best rung was asked for."""
    case = tmp_path / "case"
    case.mkdir()
    image, _ = photo_page(300, seed=5)
    (case / "brochure-photo.jpg").write_bytes(encode_jpeg(image.resize((2800, 3960)), 90, None))
    together = _analyse(case, "brochure-photo.jpg", tmp_path / "together", rungs=(3, 4))
    alone = _analyse(case, "brochure-photo.jpg", tmp_path / "alone", rungs=(4,))
    assert together.page.dpi_estimated and together.page_class.name == "colour"
    best, = (c for c in together.candidates if c.spool_index == 3)
    assert best.width_px == 2800  # every pixel
    made_together, = (c for c in together.candidates if c.spool_index == 4)
    made_alone, = (c for c in alone.candidates if c.spool_index == 4)
    assert made_together == made_alone and made_alone.dpi == 300.0


@pytest.mark.parametrize(("orientation", "rotate"), [(6, 90), (8, 270), (3, 180), (5, 0)])
def test_a_phone_photo_is_turned_by_the_pages_rotate_not_by_its_pixels(
    tmp_path: Path, orientation: int, rotate: int
) -> None:
    """A phone photo (its dpi a guess, so no MRC rung writes its own page) keeps its pixels as
    stored and its encodings carry the EXIF turn as /Rotate; a mirrored orientation (5) is
    transposed as before. Rendered, every encoding shows the photo upright."""
    from packager.pages import _EXIF_TRANSPOSE, load_page

    case = tmp_path / "case"
    case.mkdir()
    stored = Image.new("RGB", (800, 600), (235, 235, 230))
    ImageDraw.Draw(stored).rectangle((0, 0, 199, 149), fill=(200, 30, 30))  # a red corner, top-left as stored
    exif = Image.Exif()
    exif[0x0112] = orientation
    stored.save(case / "card.jpg", quality=90, exif=exif.tobytes(), dpi=(72, 72))
    page = describe_pages(next(i for i in scan_case(case, SYSTEM).inputs if i.path == "card.jpg"), SYSTEM)[0]
    assert page.dpi_estimated
    loaded = load_page(page, 600, rotate_later=True)
    assert loaded.rotate == rotate
    assert loaded.image.size == ((800, 600) if rotate else (600, 800))  # as stored, or transposed
    spool = tmp_path / "spool"
    spool.mkdir()
    task = PageTask(page, "t0", SYSTEM.ladders, SYSTEM.max_dpi, True, spool, rungs=(1, 3))
    result = analyse_page(task)
    assert isinstance(result, PageAnalysis) and len(result.candidates) >= 2
    upright = stored.transpose(_EXIF_TRANSPOSE[orientation])
    for candidate in result.candidates:
        spooled = spool_path(spool, "t0", candidate.spool_index)
        data = spooled.read_bytes() if candidate.spooled else original_page_pdf(page)
        assert data is not None
        with pikepdf.open(io.BytesIO(data)) as pdf:
            pdf_page = pdf.pages[0]
            shown = Image.open(io.BytesIO(pdf_page.images[next(iter(pdf_page.images))].read_raw_bytes()))
            turn = int(pdf_page.obj.get("/Rotate", 0))
        if candidate.spool_index:  # packager's encodings: the turn is the page's /Rotate
            assert turn == rotate
        # Turned as a viewer turns it (clockwise), the image is the upright photo.
        viewed = shown.convert("RGB").rotate(-turn, expand=True) if turn else shown.convert("RGB")
        small = (upright.width // 8, upright.height // 8)
        diff = np.abs(np.asarray(viewed.resize(small), np.int16) - np.asarray(upright.resize(small), np.int16))
        assert diff.mean() < 6


def test_one_process_encoding_many_pages_of_one_pdf_does_not_grow(tmp_path: Path) -> None:
    """Memory stays bounded page by page (a worker takes a long statement's pages one after
    another): after a few pages, twelve more of one PDF leave the process's resident memory where
    it was, within the allocator's slack — not a page's stream (~2.5 MB here) more each time."""
    import img2pdf

    from packager.pages import close_open_pdfs

    rng = np.random.default_rng(7)
    noise = rng.normal(235, 12, (2339, 1654)).clip(0, 255).astype(np.uint8)  # A4 at 200 dpi, noisy paper
    pages = []
    for i in range(16):
        page = np.roll(noise, 97 * i, axis=0)
        page[200 + i * 40 : 240 + i * 40, 100:1500] = 20  # a dark band: content, never blank
        pages.append(encode_jpeg(Image.fromarray(page).convert("RGB"), 97, 200))
    case = tmp_path / "case"
    case.mkdir()
    (case / "statement.pdf").write_bytes(img2pdf.convert(pages))
    inp = next(i for i in scan_case(case, SYSTEM).inputs if i.path == "statement.pdf")
    described = describe_pages(inp, SYSTEM)
    spool = tmp_path / "spool"
    spool.mkdir()

    def resident_mb() -> float:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6

    try:
        for n, page in enumerate(described):
            # Looked at (kept as they are): each page's original copied, its JPEG read at 1/8 scale.
            analyse_page(PageTask(page, f"t{n}", SYSTEM.ladders, SYSTEM.max_dpi, False, spool, rungs=()))
            if n == 3:
                settled = resident_mb()
        grown = resident_mb() - settled
    finally:
        close_open_pdfs()
    assert sum(len(p) for p in pages[4:]) > 24e6  # what a retained stream per page would add
    assert grown < 10, f"resident memory grew by {grown:.1f} MB over 12 pages"

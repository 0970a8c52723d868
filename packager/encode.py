"""Encode: one page → its class and every candidate encoding, each measured in bytes.

Runs in worker processes, one page per task: the page is decoded once, classified,
and encoded at every rung of its class's quality ladder. Each encoding is written to
the spool as a one-page PDF (img2pdf: JPEG and CCITT G4 streams are embedded as they
are), so the planner works with exact sizes and the assembler never encodes twice.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import img2pdf
import numpy as np
import pikepdf
from PIL import Image

from packager import ccitt, flate, jpeg_planes, mrc
from packager.classify import (
    CLASSIFY_DPI,
    ROUGH_DPI,
    binarise,
    classify_page,
    four_levels,
    rough_class,
    sample_histogram,
    sixteen_levels,
    thin_strokes,
    thumbnail_reduction,
)
from packager.errors import first_line
from packager.model import Candidate, Encoding, PageAnalysis, PageClass, SourcePage
from packager.pages import LoadedPage, exif_orientation, load_page, resize_to_dpi

ORIGINAL = Encoding(method="original")


@dataclass(frozen=True)
class PageTask:
    """Everything a worker needs for one page (picklable)."""

    page: SourcePage
    task_id: str  # unique within the build; names the spool files
    ladders: dict[str, tuple[Encoding, ...]]
    max_dpi: int
    colour_hint: bool  # the document kind says colour matters
    spool_dir: Path
    keep_blank: bool = False  # keep blank pages (encoded as bilevel) instead of dropping them
    # Ladder rungs to encode (1-based): None = the profile's first-pass rungs for the page's class,
    # () = look at the page and keep its original only, a tuple = exactly these (a second pass).
    rungs: tuple[int, ...] | None = None
    first_pass: dict[str, int] | None = None  # rungs per page class in the first pass; None = all
    # With the first pass's rungs (rungs None), also encode this many more: each the next rung
    # not tried yet, as a second pass would, from the same decode. Set where the case will not
    # fit at level 1 (originals.beyond_level_one), so that no second pass decodes it again.
    extra_rungs: int = 0
    first_look: PageAnalysis | None = None  # set on a second pass: the first pass's analysis (class, kept candidates)
    # Where the source has no stream to keep (TIFF, BMP, WebP, HEIC, PNG with alpha), also
    # encode the decoded page losslessly (Flate): set when the case will likely fit as it is.
    lossless: bool = False


@dataclass(frozen=True)
class PageFailure:
    page: SourcePage
    reason: str


def spool_path(spool_dir: Path, task_id: str, index: int) -> Path:
    return spool_dir / f"{task_id}-{index:02d}.pdf"


def _layout(dpi: float) -> object:
    return img2pdf.get_fixed_dpi_layout_fun((dpi, dpi))


def _image_pdf(image_bytes: bytes, dpi: float, *, exif_rotation: bool = False, rotate: int = 0) -> bytes:
    """A one-page PDF of one image file. Only a source's own JPEG carries an EXIF rotation to
    honour: the images encoded here are upright already, and asking img2pdf to look costs a
    whole decode of every PNG (Pillow's PNG getexif() reads past the pixels; ~10 ms a page) —
    or they are turned by the page's /Rotate, `rotate` degrees clockwise (LoadedPage.rotate)."""
    if exif_rotation:
        rotation = img2pdf.Rotation.ifvalid
    else:
        rotation = img2pdf.Rotation[str(rotate)] if rotate else img2pdf.Rotation.none
    return img2pdf.convert(image_bytes, layout_fun=_layout(dpi), nodate=True, rotation=rotation)


def encode_image(image: Image.Image, encoding: Encoding, histogram: Sequence[int] | None = None) -> bytes:
    """The image file bytes (JPEG, 2- or 4-bit PNG, or single-strip G4 TIFF) for one rung.
    `histogram`: a grey image's own, where the caller has counted it (_grey_histogram)."""
    if encoding.method == "flate-grey2":
        # Four levels, 2 bits a pixel, as a PNG whose stream img2pdf embeds as it is (flate.py
        # says why it does not come from Pillow's PNG writer).
        return flate.grey_png(four_levels(image, histogram), 2)
    if encoding.method == "flate-grey4":
        return flate.grey_png(sixteen_levels(image, histogram), 4)  # sixteen levels, 4 bits a pixel
    if encoding.method == "g4":
        bilevel = image if image.mode == "1" else binarise(image, histogram)
        # libtiff codes the packed rows as they are, ink as 1 (ccitt.py: faster, and the fax
        # polarity codes ~3–9 % shorter); Pillow's writer where libtiff is not installed.
        ink_rows = np.invert(np.frombuffer(bilevel.tobytes(), dtype=np.uint8)).tobytes()  # "1": 1 is white
        fax = ccitt.tiff(ink_rows, bilevel.width, bilevel.height)
        if fax is not None:
            return fax
        buf = io.BytesIO()
        # One strip: a G4 stream split in strips cannot be embedded as one PDF image.
        bilevel.save(buf, "TIFF", compression="group4", tiffinfo={278: bilevel.height})
        return buf.getvalue()
    if encoding.method in ("jpeg-grey", "jpeg-colour"):
        mode = "L" if encoding.method == "jpeg-grey" else "RGB"
        src = image if image.mode == mode else image.convert(mode)
        # No Huffman optimisation: it costs 2–5× the encode time for 3–4% of the bytes.
        buf = io.BytesIO()
        src.save(buf, "JPEG", quality=encoding.quality)
        return buf.getvalue()
    raise ValueError(f"cannot encode {encoding.method}")  # pragma: no cover - profiles refuse others


def original_possible(page: SourcePage) -> bool:
    """Whether the source's own stream can likely be embedded unchanged (JPEG and PNG files,
    PDF pages); original_page_pdf has the last word."""
    if page.input.format == "pdf":
        return page.input.pdf_reader != "pdfium"  # qpdf cannot copy a page it does not see
    return page.input.format == "jpeg" or (page.input.format == "png" and page.input.page_count == 1)


def original_page_pdf(page: SourcePage) -> bytes | None:
    """The page exactly as the source holds it, as a one-page PDF, where that is possible.
    The same page and length every time (the assembler makes a kept original again, see
    _kept_original); only an image's trailer /ID differs, from the clock, and no page keeps it."""
    fmt = page.input.format
    if fmt == "jpeg":
        try:
            return _image_pdf(page.input.abs_path.read_bytes(), page.native_dpi, exif_rotation=True)
        except Exception:  # img2pdf refuses some JPEGs (odd colour spaces): re-encode instead
            return None
    if fmt == "png" and page.input.page_count == 1:
        # img2pdf copies a PNG's compressed pixels into the PDF as they are (lossless, no
        # decode). Not for alpha (the page is flattened onto white instead: img2pdf refuses
        # it) nor for an EXIF-rotated PNG (the PDF would show it on its side); so the PNG
        # embedded is upright and img2pdf need not look for a rotation.
        with Image.open(page.input.abs_path) as im:
            if exif_orientation(im) != 1 or "A" in im.mode or "transparency" in im.info:
                return None
        try:
            return _image_pdf(page.input.abs_path.read_bytes(), page.native_dpi)
        except Exception:
            return None
    if fmt == "pdf" and page.input.pdf_reader != "pdfium":
        # Its own handle, not the process's open one (pages.open_pdf): qpdf keeps what a page
        # copied out of a PDF for as long as that PDF is open — ~3 MB a page of a scanned
        # statement, a worker taking its 61 pages grew by 180 MB (tests/test_encode.py).
        with pikepdf.open(page.input.abs_path) as src, pikepdf.new() as out:
            out.pages.append(src.pages[page.page_index])
            buf = io.BytesIO()
            # A fixed /ID, not one hashed from the bytes (MD5 of a 2 MB page, ~4 ms): this file
            # is spooled, and assembly takes its page, never its trailer.
            out.save(buf, static_id=True, compress_streams=True)
            return buf.getvalue()
    return None


# Above this many decoded bytes (an A4 300 dpi colour page is 26 MB), a lossless page would
# take much of the 25 MB budget by itself and is not worth its encode time (a 12 MP phone
# photo: ~25 MB as Flate, 1–2 s); such pages keep their best JPEG rung.
LOSSLESS_MAX_RAW_BYTES = 30_000_000


def _worth_lossless(image: Image.Image) -> bool:
    if image.width * image.height * len(image.getbands()) > LOSSLESS_MAX_RAW_BYTES:
        return False
    return image.getcolors(2) is None  # two-valued: the G4 rung is lossless already


def _lossless_candidate(loaded: LoadedPage, task: PageTask) -> Candidate:
    """The decoded page (upright, flattened, at most the ceiling dpi) as Flate: no loss."""
    buf = io.BytesIO()
    loaded.image.save(buf, "PNG", compress_level=6)
    data = _image_pdf(buf.getvalue(), loaded.dpi, rotate=loaded.rotate)
    spool_path(task.spool_dir, task.task_id, 0).write_bytes(data)
    encoding = Encoding("lossless", dpi=round(loaded.dpi))
    return Candidate(encoding, len(data), round(loaded.dpi, 1), loaded.image.width, loaded.image.height)


def _mrc_applies(page: SourcePage) -> bool:
    """MRC is for scanned sheets. A phone photo's dpi is a guess and its document is a small
    card in a larger frame (shading, perspective, a few pixels per character): its text is not
    the clean bilevel shape a mask keeps, so it keeps its whole-image rungs."""
    return not page.dpi_estimated


def _rung_applies(rung: Encoding, page: SourcePage, image: Image.Image, histograms: dict[int, list[int]]) -> bool:
    """MRC is for scanned sheets (_mrc_applies); sixteen grey levels for print fine enough that
    four levels lose it (classify.thin_strokes) — elsewhere they cost 1.7× four levels' bytes
    and 2× the encode time for nothing OCR or a reader can tell."""
    if rung.method == "mrc":
        return _mrc_applies(page)
    if rung.method == "flate-grey4":
        return thin_strokes(image, _grey_histogram(image, histograms))
    return True


def decode_dpi(task: PageTask, *, first_look_only: bool) -> float:
    """The most resolution a task decodes its page at (load_page takes min(native, this)):
    the rough classifier's for a first look that keeps originals (and the classifier's 150 dpi
    where that one cannot tell blank, see _look), else the ceiling below."""
    return ROUGH_DPI if first_look_only else _ceiling_dpi(task.page, task.max_dpi)


def _ceiling_dpi(page: SourcePage, max_dpi: int) -> float:
    """The most resolution worth decoding. A phone photo's dpi is a guess (fitted to A4),
    and the document in it is smaller than the frame: its best rung keeps every pixel
    (measured: the residence-card back at the A4-fitted 363 → 300 dpi went from 31% to
    54% OCR error; the text is only a few pixels high)."""
    return max(max_dpi, page.native_dpi) if page.dpi_estimated else max_dpi


def analyse_page(task: PageTask) -> PageAnalysis | PageFailure:
    """Decode, classify and encode one page at the task's rungs (worker entry point).

    A first pass encodes the original and the best rung(s) only: most cases fit there (and
    the next rung too where the case will not: task.extra_rungs). A second pass
    (task.first_look set) adds the lower rungs, for cases that still do not.
    """
    page = task.page
    try:
        original = original_page_pdf(page) if task.first_look is None else None
    except Exception as e:  # a PDF that opened at intake but cannot give this page: name it
        return PageFailure(page, f"page {page.page_index + 1} cannot be copied ({first_line(e)})")
    rungs = task.rungs
    if rungs == () and task.first_look is None:
        if original is not None:
            return _look(task, original)
        rungs = None  # no stream to keep after all (img2pdf refused it): the first pass's rungs
    loaded = _decoded(task)
    if isinstance(loaded, PageFailure):
        return loaded
    page_class, candidates = _class_and_kept_candidates(task, loaded, original)
    if page_class.name == "blank":
        return PageAnalysis(page=page, page_class=page_class, candidates=(), spool_key=task.task_id)
    loaded = _pixels_for(page_class, loaded)
    ladder = task.ladders[page_class.name]
    first_pass = rungs is None
    if rungs is not None:
        wanted: list[int] = list(rungs)
    else:
        wanted = list(range(1, (task.first_pass or {}).get(page_class.name, len(ladder)) + 1))
    resized: dict[int, Image.Image] = {}  # one resize per distinct dpi of the ladder
    histograms: dict[int, list[int]] = {}  # and one grey histogram per image (_grey_histogram)
    tried = set(task.first_look.tried) if task.first_look is not None else set()
    done_rungs = tried | {c.spool_index for c in candidates}  # a later pass may ask for one already made
    # MRC: segmented once per mask dpi. A later pass does not segment again a page an earlier
    # one found no text on (its MRC rungs were tried and gave nothing).
    layers: dict[int, mrc.Layers | None] = {}
    if not any(c.encoding.method == "mrc" for c in candidates):
        layers.update({ladder[r - 1].dpi or 0: None for r in tried if ladder[r - 1].method == "mrc"})
    # The page's best rung: the ladder's first that applies to it (MRC rungs do not apply to a
    # phone photo, whose best rung keeps every pixel, see _ceiling_dpi).
    applies = [_rung_applies(r, page, loaded.image, histograms) for r in ladder] if wanted else []
    best_rung = next((j for j, a in enumerate(applies, 1) if a), 1)
    extra = task.extra_rungs if first_pass else 0
    owed = first_pass  # the first pass's own rungs owe the page an encoding; extra ones do not
    k = 0
    while True:
        if k == len(wanted):
            below = next((r for r in range(1, len(ladder) + 1) if r not in tried and r not in done_rungs), None)
            if extra <= 0 or below is None:
                break
            wanted.append(below)  # exactly what second_pass would ask for: the next rung not tried
            extra -= 1
            owed = False
        i = wanted[k]
        k += 1
        if i > len(ladder) or i in done_rungs:
            continue
        tried.add(i)
        rung = ladder[i - 1]
        if not applies[i - 1]:
            if owed and k == len(wanted) and i < len(ladder):
                wanted.append(i + 1)  # the first pass still owes the page one encoding
            continue
        target = rung.dpi or round(loaded.dpi)
        if i == best_rung and page.dpi_estimated:
            target = max(target, round(loaded.dpi))
        if loaded.colour_pending and (rung.method != "mrc" or target < loaded.dpi * 0.995):
            # A rung that reads the RGB (not an MRC one on the planes): made now, once.
            loaded = loaded.in_colour()
            resized.clear()
            histograms.clear()
        image = _image_at(target, loaded, resized)
        dpi = loaded.dpi * image.width / loaded.image.width
        if rung.method == "mrc":
            if target not in layers:
                layers[target] = mrc.segment(image, dpi, rung.background_dpi or target, _planes_of(image, loaded))
            page_layers = layers[target]
            if page_layers is None:  # no text to separate: the page keeps its other rungs
                if owed and k == len(wanted) and i < len(ladder):
                    wanted.append(i + 1)
                continue
            data = mrc.mrc_page_pdf(page_layers, rung.quality or 50)
            rung = replace(rung, background_dpi=round(page_layers.background_dpi))
        else:
            histogram = _grey_histogram(image, histograms)
            if rung.method.startswith("flate-grey") and _two_valued(image, histogram):
                # Two-valued already (a 1-bit scan at its own dpi): there are no grey edges to
                # keep, and G4 holds exactly the same pixels, smaller.
                rung = Encoding("g4", dpi=rung.dpi)
            data = _image_pdf(encode_image(image, rung, histogram), dpi, rotate=loaded.rotate)
        if not _worth_keeping(rung, len(data), candidates):
            continue
        spool_path(task.spool_dir, task.task_id, i).write_bytes(data)
        done = replace(rung, dpi=round(dpi)) if rung.dpi and round(dpi) != rung.dpi else rung
        candidates.append(Candidate(done, len(data), round(dpi, 1), image.width, image.height, spool_index=i))
    candidates.sort(key=lambda c: c.spool_index)
    return PageAnalysis(page=page, page_class=page_class, candidates=tuple(candidates), spool_key=task.task_id,
                        tried=tuple(sorted(tried)))


def _decoded(task: PageTask) -> LoadedPage | PageFailure:
    """The page's pixels for its rungs: as JPEG planes where it may be text only (a page whose
    kind is in colour would only be made RGB from them, a little slower than Pillow's decode);
    turned by the PDF's /Rotate, not by a transposition, where no MRC rung applies (MRC writes
    its own PDF page): a phone photo."""
    page = task.page
    try:
        return load_page(page, decode_dpi(task, first_look_only=False), planes=not task.colour_hint,
                         rotate_later=not _mrc_applies(page))
    except Exception as e:  # a decoder error names the file; the case goes on
        return PageFailure(page, f"page {page.page_index + 1} cannot be decoded ({first_line(e)})")


def _pixels_for(page_class: PageClass, loaded: LoadedPage) -> LoadedPage:
    """The pixels a page's rungs encode: a text page's grey, a colour page's colour (a page decoded
    as planes has both at hand, see LoadedPage); a grey page as classified."""
    if page_class.name == "bilevel":
        return loaded.in_grey()
    if page_class.name == "colour":
        # A colour page's RGB waits until a rung needs it (analyse_page): MRC reads the planes.
        return loaded if loaded.colour_pending else loaded.in_colour()
    return loaded.in_colour() if loaded.colour_pending else loaded


def _planes_of(image: Image.Image, loaded: LoadedPage) -> tuple[np.ndarray, ...] | None:
    """The JPEG planes (Y, Cb, Cr arrays) of a colour page that is `image` itself (not resized):
    MRC segments them without a pass over the full-size RGB (mrc.segment)."""
    planes = loaded.planes
    if planes is None or image is not loaded.image or not (image.mode == "RGB" or loaded.colour_pending):
        return None
    return planes.arrays


def _image_at(target: int, loaded: LoadedPage, resized: dict[int, Image.Image]) -> Image.Image:
    """The page at a rung's dpi, made once per dpi (kept in `resized`), from the smallest image
    already made that is still at least the target: cheaper than from the decode."""
    if target not in resized:
        base_dpi = min((d for d in resized if d >= target), default=None)
        base = resized[base_dpi] if base_dpi else loaded.image
        # The base's own dpi, not the target it was made for: a phone photo's best rung is
        # kept at its 362.6 dpi under target 363, and a rung at 300 resized from it as if
        # from 363 came out at 299.8 dpi (and other bytes than from the decode itself).
        dpi_from = loaded.dpi * base.width / loaded.image.width
        resized[target] = resize_to_dpi(base, dpi_from, target)
    return resized[target]


def _grey_histogram(image: Image.Image, histograms: dict[int, list[int]]) -> list[int] | None:
    """A grey image's sample_histogram, counted once per image: thin_strokes, the two-valued
    check and every grey rung's levels read it (Pillow's histogram of all pixels is 3.2 ms on
    an A4 page at 300 dpi, and was counted up to three times). None for other modes."""
    if image.mode != "L":
        return None
    if id(image) not in histograms:  # the images stay alive in analyse_page (loaded, resized)
        histograms[id(image)] = sample_histogram(image)
    return histograms[id(image)]


def _two_valued(image: Image.Image, sample: list[int] | None) -> bool:
    """Whether the image holds two values at most. A sample with three has the answer; one with
    two or fewer is checked on every pixel (a 1-bit scan: rare, and the answer must be exact)."""
    if sample is not None and sum(1 for count in sample if count) > 2:
        return False
    return image.getcolors(2) is not None


def _worth_keeping(rung: Encoding, size: int, candidates: list[Candidate]) -> bool:
    """Whether an encoding of `size` bytes joins the page's candidates."""
    original_bytes = next((c.bytes_ for c in candidates if c.spool_index == 0), None)
    if original_bytes is not None and size >= original_bytes:
        return False  # never make a page worse and bigger: the original stays (OCRmyPDF's size guard)
    mrc_bytes = min((c.bytes_ for c in candidates if c.encoding.method == "mrc"), default=None)
    # A whole-page JPEG no smaller than the page's MRC is worse for its text and not cheaper:
    # the planner's level falls back to the MRC rendition (plan.levels_of).
    return rung.method == "mrc" or mrc_bytes is None or size < mrc_bytes


def _class_and_kept_candidates(
    task: PageTask, loaded: LoadedPage, original: bytes | None
) -> tuple[PageClass, list[Candidate]]:
    """The page's class and the candidates it starts with: a second pass's known ones, or the
    first look's original stream (spool index 0) or lossless rendition. A blank page (dropped
    unless the task keeps blanks) comes back as class "blank" with no candidates."""
    if task.first_look is not None:
        page_class = task.first_look.page_class
        if task.first_look.rough_class:
            # Classified coarsely while kept as it is (_look), which saw content: the class
            # from these pixels, and never "blank" now.
            page_class = _classified(replace(task, keep_blank=True), loaded)
        return page_class, list(task.first_look.candidates)
    page_class = _classified(task, loaded)
    if page_class.name == "blank":
        return page_class, []
    candidates: list[Candidate] = []
    if original is not None:
        candidates.append(_kept_original(task, original))
    elif task.lossless and _worth_lossless(loaded.rgb if loaded.colour_pending else loaded.image):
        candidates.append(_lossless_candidate(loaded.in_colour(), task))
    return page_class, candidates


def _kept_original(task: PageTask, original: bytes, *, spool: bool = False) -> Candidate:
    """The page's original stream as a candidate (index 0), measured, and spooled only if asked
    (a page kept as it is, _look, whose original the plan most likely takes). Otherwise the
    assembler makes it again from the source if the plan takes it (write.py): a plan that
    encodes pages takes few of their originals, and spooling every one wrote the heavy
    bundle's inputs out again (~0.4 s of worker CPU; 14 of its 106 originals are used)."""
    page = task.page
    if spool:
        spool_path(task.spool_dir, task.task_id, 0).write_bytes(original)
    return Candidate(ORIGINAL, len(original), round(page.native_dpi, 1), page.width_px, page.height_px,
                     spooled=spool)


def _classified(task: PageTask, loaded: LoadedPage) -> PageClass:
    """classify_page's class; a blank page the task keeps is bilevel."""
    image: Image.Image | Callable[[], Image.Image] = loaded.image
    thumb = None
    if loaded.colour_pending and loaded.planes is not None:
        # Its colour from a thumbnail of the planes: no full-size RGB for a page whose rungs
        # may read the planes alone (MRC); classes as from the RGB on the bundles and corpus.
        factor = thumbnail_reduction(loaded.dpi)
        thumb = jpeg_planes.rgb_thumbnail(loaded.planes, factor) if factor else None
        image = (lambda: loaded.rgb) if thumb is not None else loaded.rgb
    page_class = classify_page(image, loaded.dpi, colour_hint=task.colour_hint, thumb=thumb)
    if page_class.name == "blank" and task.keep_blank:
        return replace(page_class, name="bilevel")
    return page_class


def _look(task: PageTask, original: bytes) -> PageAnalysis | PageFailure:
    """A page the first pass keeps as it is: its original spooled, its class seen coarsely.

    The pixels only say whether the page is blank (dropped unless kept) and roughly what it is
    (a later pass that encodes it after all classifies it again): libjpeg's 1/8-scale decode
    (ROUGH_DPI) for that, and the classifier's 150 dpi view only where the coarse one shows
    almost nothing — a blank back, or one small mark. Measured on typical's 21 such pages:
    ~9 ms a page against ~20 ms at 150 dpi.
    """
    page = task.page
    try:
        loaded = load_page(page, ROUGH_DPI)
        rough = rough_class(loaded.image, loaded.dpi, colour_hint=task.colour_hint)
        # The closer look as planes where it may (as analyse_page decodes): a colour scan of a
        # blank back is quiet in chroma, and its luma is checked for a mark without the RGB
        # (heavy's three such backs: ~45 → ~25 ms each).
        page_class = rough or _classified(task, load_page(page, CLASSIFY_DPI, planes=not task.colour_hint))
    except Exception as e:  # a decoder error names the file; the case goes on
        return PageFailure(page, f"page {page.page_index + 1} cannot be decoded ({first_line(e)})")
    if page_class.name == "blank":
        return PageAnalysis(page=page, page_class=page_class, candidates=(), spool_key=task.task_id)
    return PageAnalysis(page=page, page_class=page_class, candidates=(_kept_original(task, original, spool=True),),
                        spool_key=task.task_id, rough_class=rough is not None)


def write_mail_page(page: SourcePage, page_class: PageClass, dest: Path) -> tuple[int, str]:
    """Write the page's full-quality one-page PDF to `dest` (worker entry point); its size
    and how it was made ("original" or "lossless")."""
    data, how = mail_page_pdf(page, page_class)
    dest.write_bytes(data)
    return len(data), how


def mail_page_pdf(page: SourcePage, page_class: PageClass, max_dpi: int = 600) -> tuple[bytes, str]:
    """A page at the source's full quality for printing (mailing has no byte limit)."""
    original = original_page_pdf(page)
    if original is not None:
        return original, "original"
    loaded = load_page(page, max_dpi)
    image = loaded.image
    if page_class.name == "bilevel":
        data = encode_image(image, Encoding("g4", dpi=round(loaded.dpi)))
    else:
        buf = io.BytesIO()
        image.save(buf, "PNG", optimize=False, compress_level=6)  # lossless, Flate in the PDF
        data = buf.getvalue()
    return _image_pdf(data, loaded.dpi), "lossless"

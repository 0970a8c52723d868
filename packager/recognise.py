"""Recognise a document's kind from its first page, where neither case.toml nor the name says.

Scanners name files `scan0001.pdf`, `20261201_153012.jpg`, `IMG_4032.HEIC`: for those, the
first page is read. Certificates print their title at the top (課税証明書, 在職証明書 …), a
passport page has its machine-readable zone, a residence card says 在留カード / RESIDENCE CARD
(its back: 住居地記載欄), an ID photo is a small 3:4 colour portrait with no text at all.

Text comes from tesseract (`jpn+eng`), run as a subprocess on a downscaled greyscale image:
first the top of the page (where titles are), the whole page only when the top says nothing.
The phrases that name each kind are profile data (profiles/kinds.toml: `titles`, `words`).
Where tesseract or its Japanese data is missing, files stay "other" and the caller warns.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import unicodedata
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from functools import lru_cache

import numpy as np
from PIL import Image

from packager.intake import CaseIntake, order_inputs
from packager.model import DocumentKind, InputFile
from packager.pages import describe_pages, load_page
from packager.profiles import SystemProfile, load_kinds

OCR_DPI = 150  # titles are ≥ 14 pt: ~29 px high at 150 dpi; tesseract reads them well
TOP_FRACTION = 0.3  # titles sit in the top third of a certificate
OCR_TIMEOUT_S = 60  # one tesseract run; a page it cannot finish is not recognised
# An ID photo: a 3:4 portrait (ISA: 4 cm × 3 cm) within this tolerance, smaller than a
# postcard, in colour, with no text tesseract can find.
PHOTO_ASPECT = (0.68, 0.82)
PHOTO_MAX_IN = 6.0
PHOTO_MAX_TEXT_CHARS = 3
# The machine-readable zone of a passport (ICAO 9303 TD3): "P", a type letter or "<", the issuing
# state, then names padded with "<"; the second line ends in a run of "<" and check digits.
_MRZ = re.compile(r"P[A-Z<][A-Z<]{3}[A-Z]+<<[A-Z<]{4,}|[A-Z0-9<]{9}[0-9][A-Z<]{3}[0-9]{6}[0-9<][MF<]")

OcrFn = Callable[[Image.Image], str]


@dataclass(frozen=True)
class Recognition:
    kind: str | None  # None: nothing recognised (the input keeps its kind)
    evidence: str  # what decided it, for the manifest: 'title "課税証明書"', "passport MRZ" …
    side: str = ""  # "back" for the back of a card (merged after the front)


# ---------------------------------------------------------------------------- OCR


@lru_cache(maxsize=1)
def tesseract_problem() -> str | None:
    """Why OCR cannot run here, or None when tesseract with jpn and eng is installed."""
    exe = shutil.which("tesseract")
    if exe is None:
        return "tesseract is not installed"
    try:
        done = subprocess.run([exe, "--list-langs"], capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.SubprocessError) as e:
        return f"tesseract does not run ({e})"
    langs = set(done.stdout.split())
    missing = [lang for lang in ("jpn", "eng") if lang not in langs]
    return f"tesseract lacks the {'+'.join(missing)} language data" if missing else None


def tesseract_text(image: Image.Image, languages: str = "jpn+eng") -> str:
    """The text tesseract reads on `image` (jpn+eng), or "" when it fails or times out."""
    buf = io.BytesIO()
    image.save(buf, "PNG", compress_level=1)
    try:
        done = subprocess.run(
            ["tesseract", "stdin", "stdout", "-l", languages, "--psm", "3"],
            input=buf.getvalue(),
            capture_output=True,
            timeout=OCR_TIMEOUT_S,
            check=False,
            # One thread per run: runs go in parallel instead, and OpenMP's spinning on a
            # shared machine costs more than it gives on a third of a page.
            env={**os.environ, "OMP_THREAD_LIMIT": "1"},  # keeps TESSDATA_PREFIX and PATH
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    return done.stdout.decode("utf-8", "replace") if done.returncode == 0 else ""


def tesseract_title(image: Image.Image) -> str:
    """The text of the top of a page, where a title is looked for: tesseract with its Japanese
    model alone, which reads the Latin letters of a bilingual title too ("Notice of Employment
    Conditions", "PASSPORT"). With the English model beside it, tesseract recognises each word
    twice and keeps the likelier: the heavy bundle's two unnamed scans took 0.67 s of CPU for
    their tops with jpn+eng, 0.38 s with jpn, the same text read; the whole page, where an
    English body or a passport's machine-readable zone may be, keeps both."""
    return tesseract_text(image, "jpn")


# ---------------------------------------------------------------------------- matching


def normalise_text(text: str) -> str:
    """NFKC, no whitespace, no brackets or middle dots: '住民税 課税 (非課税) 証明書' →
    '住民税課税非課税証明書'. OCR spaces wide-set titles ('在 職 証 明 書') at random."""
    text = unicodedata.normalize("NFKC", text).upper()
    return re.sub(r"[\s()（）\[\]「」『』・･.,:;|'\"`_-]+", "", text)


def _fuzzy_find(needle: str, hay: str, k: int) -> int:
    """Start of the first substring of hay within edit distance k of needle, or -1 (Sellers'
    algorithm: the edit distance with a free start anywhere in hay)."""
    m = len(needle)
    prev = list(range(m + 1))
    prev_start = [0] * (m + 1)
    for j, ch in enumerate(hay):
        cur = [0] * (m + 1)
        cur_start = [j + 1] * (m + 1)
        for i in range(1, m + 1):
            cur[i], cur_start[i] = min(
                (prev[i - 1] + (needle[i - 1] != ch), prev_start[i - 1] if i > 1 else j),
                (prev[i] + 1, prev_start[i]),
                (cur[i - 1] + 1, cur_start[i - 1]),
            )
        if cur[m] <= k:
            return cur_start[m]
        prev, prev_start = cur, cur_start
    return -1


FUZZY_SPAN = 400  # characters of the page's text searched with OCR tolerance (titles come first)


def _allowed_errors(phrase: str) -> int:
    # Short titles must match exactly: 納税証明書 and 課税証明書 differ in one character.
    return 0 if len(phrase) < 6 else 1 if len(phrase) < 10 else 2


def match_title(text: str, kinds: dict[str, DocumentKind]) -> tuple[str, str] | None:
    """(kind, phrase) of the title phrase found earliest in the text: exact matches first,
    then OCR-tolerant ones; None when no kind's title is there."""
    flat = normalise_text(text)
    if not flat:
        return None
    for fuzzy in (False, True):
        best: tuple[int, int, str, str] | None = None  # (position, -length, kind, phrase)
        for kind in kinds.values():
            for phrase in kind.titles:
                p = normalise_text(phrase)
                if not p:
                    continue
                if fuzzy:
                    k = _allowed_errors(p)
                    at = _fuzzy_find(p, flat[:FUZZY_SPAN], k) if k else -1
                else:
                    at = flat.find(p)
                if at >= 0 and (best is None or (at, -len(p)) < best[:2]):
                    best = (at, -len(p), kind.key, phrase)
        if best is not None:
            return best[2], best[3]
    return None


def match_words(text: str, kinds: dict[str, DocumentKind]) -> tuple[str, str] | None:
    """(kind, words) of the kind with the most cue words in the text (at least one)."""
    flat = normalise_text(text)
    best: tuple[int, str, list[str]] | None = None
    for kind in kinds.values():
        found = [w for w in kind.words if normalise_text(w) and normalise_text(w) in flat]
        if found and (best is None or len(found) > best[0]):
            best = (len(found), kind.key, found)
    return (best[1], ", ".join(best[2])) if best else None


def is_passport_mrz(text: str) -> bool:
    lines = [re.sub(r"\s+", "", ln).upper() for ln in text.splitlines()]
    return any(_MRZ.search(ln) for ln in lines if ln.count("<") >= 5)


def _back_side(text: str, kind: DocumentKind) -> bool:
    flat = normalise_text(text)
    return any(normalise_text(w) in flat for w in kind.back_words)


# ---------------------------------------------------------------------------- one input


def _looks_like_id_photo(image: Image.Image, width_in: float, height_in: float, dpi_estimated: bool) -> bool:
    if image.mode != "RGB" or image.height <= image.width:
        return False
    aspect = image.width / image.height
    if not PHOTO_ASPECT[0] <= aspect <= PHOTO_ASPECT[1]:
        return False
    if not dpi_estimated and max(width_in, height_in) > PHOTO_MAX_IN:
        return False  # an A4 page in colour with a picture on it, not a photo print
    small = np.asarray(image.resize((64, round(64 / aspect))), dtype=np.int16)
    chroma = small.max(axis=2) - small.min(axis=2)
    return float((chroma > 20).mean()) > 0.05  # a face and clothes have colour; a grey page has none


def _count_text_chars(text: str) -> int:
    return sum(1 for ch in normalise_text(text) if ch.isalnum())


def recognise_input(inp: InputFile, kinds: dict[str, DocumentKind], system: SystemProfile, ocr: OcrFn,
                    title_ocr: OcrFn | None = None) -> Recognition:
    """The kind of one input from its first page (never raises: a page that cannot be read is
    simply not recognised, and the build rejects it later with its reason). `title_ocr` reads
    the top of the page (default: `ocr`)."""
    try:
        page = describe_pages(inp, system)[0]
        loaded = load_page(page, OCR_DPI)
    except Exception:
        return Recognition(None, "")
    image = loaded.image
    grey = image.convert("L")
    # The top of the page first: where certificates print their title, and nothing else.
    top = grey.crop((0, 0, grey.width, max(1, round(grey.height * TOP_FRACTION))))
    text = (title_ocr or ocr)(top)
    found = match_title(text, kinds)
    if found is not None:
        return _found(found[0], f"title {found[1]!r}", text, kinds)
    # Then the whole page, where a body may name other documents ("在留カード番号", "日本語能力
    # 試験"): the passport's zone and a kind's own cue words count before any title found there.
    text = ocr(grey)
    if is_passport_mrz(text):
        return Recognition("passport", "passport machine-readable zone")
    cue = match_words(text, kinds)
    if cue is not None:
        return _found(cue[0], f"words {cue[1]}", text, kinds)
    found = match_title(text, kinds)
    if found is not None:
        return _found(found[0], f"title {found[1]!r}", text, kinds)
    if (
        "photo" in kinds
        and inp.format != "pdf"
        and _count_text_chars(text) <= PHOTO_MAX_TEXT_CHARS
        and _looks_like_id_photo(image, page.width_in, page.height_in, page.dpi_estimated)
    ):
        return Recognition("photo", "a 3:4 colour portrait with no text")
    return Recognition(None, "")


def _found(kind: str, evidence: str, text: str, kinds: dict[str, DocumentKind]) -> Recognition:
    return Recognition(kind, evidence, "back" if _back_side(text, kinds[kind]) else "")


# ---------------------------------------------------------------------------- the case


def needs_content(inp: InputFile) -> bool:
    """Only files nobody named: case.toml and the file name come first."""
    return inp.kind_from == "default"


def assign_kinds(
    inputs: Sequence[InputFile],
    kinds: dict[str, DocumentKind],
    system: SystemProfile,
    *,
    jobs: int = 1,
    ocr: OcrFn | None = None,
) -> tuple[list[InputFile], list[str]]:
    """Inputs with kinds read from their content where nothing else gave one; warnings.

    OCR runs in threads (each a tesseract subprocess: the work is outside this process).
    """
    todo = [i for i, inp in enumerate(inputs) if needs_content(inp)]
    if not todo:
        return list(inputs), []
    warnings: list[str] = []
    if ocr is None:
        problem = tesseract_problem()
        if problem is not None:
            names = ", ".join(inputs[i].path for i in todo)
            warnings.append(
                f"{problem}: the kind of {names} could not be read from the page and stays 'other' "
                "(install tesseract-ocr and tesseract-ocr-jpn, or name the files in case.toml [documents])"
            )
            return list(inputs), warnings
        ocr, title_ocr = tesseract_text, tesseract_title
    else:
        title_ocr = ocr
    run = ocr

    def one(i: int) -> Recognition:
        return recognise_input(inputs[i], kinds, system, run, title_ocr)

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        found = list(pool.map(one, todo))
    out = list(inputs)
    for i, rec in zip(todo, found, strict=True):
        if rec.kind is not None and rec.kind != "other":
            out[i] = replace(
                inputs[i], kind=rec.kind, document=rec.kind, kind_from="content", kind_evidence=rec.evidence,
                side=rec.side or inputs[i].side,
            )
    return out, warnings


def recognise_case(found: CaseIntake, system: SystemProfile, jobs: int = 1) -> CaseIntake:
    """The case's inputs with kinds from content where needed, in merge order; warnings added."""
    inputs, warnings = assign_kinds(found.inputs, load_kinds(), system, jobs=jobs)
    return replace(found, inputs=tuple(order_inputs(inputs)), warnings=(*found.warnings, *warnings))


__all__ = [
    "Recognition",
    "assign_kinds",
    "is_passport_mrz",
    "match_title",
    "match_words",
    "normalise_text",
    "recognise_case",
    "recognise_input",
    "tesseract_problem",
    "tesseract_text",
    "tesseract_title",
]

"""Frozen hand-off records passed from one stage to the next.

A leaf module (standard library only). Field names carry their units: `bytes_`,
`dpi`, `width_px`, `width_in`; `page_index` is always 0-based. Results are return
values built from these records; no stage writes onto another stage's record.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

PageClassName = Literal["blank", "bilevel", "grey", "colour"]
EncodingMethod = Literal["original", "lossless", "flate-grey4", "flate-grey2", "g4", "jpeg-grey", "jpeg-colour", "mrc"]
Destination = Literal["upload", "mail"]


@dataclass(frozen=True)
class Applicant:
    name: str = ""
    nationality: str = ""
    birth_date: str = ""  # ISO date as written in case.toml, or ""
    residence_card_number: str = ""


@dataclass(frozen=True)
class CaseInfo:
    """What case.toml says about the case (all optional)."""

    application: str = ""  # coe | change | extension | acquisition | work-certificate | …
    status: str = ""  # desired (new) status of residence key
    current_status: str = ""
    applicant: Applicant = field(default_factory=Applicant)
    documents: tuple[tuple[str, str], ...] = ()  # (file name or glob, kind), in file order
    bureau: str = ""  # regional immigration bureau (addressee of mailed supplements)
    sender: str = ""  # who mails (office name), defaults to the applicant
    photo_taken: _dt.date | None = None
    issued: tuple[tuple[str, _dt.date], ...] = ()  # (kind, issue date)
    date: _dt.date | None = None  # the date the forms print (default: the day of the build)
    employer_category: int | None = None  # 1–4, work statuses (checked against the profiles by checklist)
    with_: tuple[str, ...] = ()  # add-on applications filed together, as written ("re-entry-permit")
    notes: str = ""
    office: str = ""


@dataclass(frozen=True)
class Rejection:
    """An input that was not used, and why (one line, for people)."""

    path: str  # relative to CASE_DIR, POSIX separators
    reason: str


@dataclass(frozen=True)
class InputFile:
    """An accepted input file, sniffed by content and hashed before any use."""

    path: str  # relative to CASE_DIR, POSIX separators
    abs_path: Path
    sha256: str
    bytes_: int
    format: str  # pdf | jpeg | png | tiff | heif | webp | bmp | gif
    page_count: int
    kind: str  # document kind key, e.g. "passport", "other"
    document: str  # document key: the kind, or "other-<stem>" for unknown names
    # PDFs: the reader that sees the most pages ("pikepdf", or "pdfium" where qpdf's page
    # tree repair finds fewer pages than PDFium on a damaged file); "" for images.
    pdf_reader: str = ""
    # How the kind was decided: "case.toml", "name", "content" (recognise.py) or "default".
    kind_from: str = "default"
    kind_evidence: str = ""  # content: what was read ('title "課税証明書"', "passport machine-readable zone")
    side: str = ""  # "front" | "back" | "": a card's back is merged after its front


@dataclass(frozen=True)
class SourcePage:
    """One page of one input, described without holding its pixels."""

    input: InputFile
    page_index: int  # 0-based within the input file
    width_px: int  # native pixels of the page raster, after orientation
    height_px: int
    width_in: float  # physical page size
    height_in: float
    native_dpi: float  # effective dpi of the source: pixels / inches (min of both axes)
    dpi_estimated: bool  # True when the file's dpi tag was missing or implausible
    has_text_layer: bool = False  # born-digital PDF page (vector text)
    # A PDF page's stored streams (its images and contents, as compressed in the file): about
    # what keeping the page as it is costs, known before any worker copies it. 0 = not known.
    stream_bytes: int = 0


@dataclass(frozen=True)
class PageClass:
    """What a page holds, measured on a small greyscale/colour thumbnail."""

    name: PageClassName
    ink_fraction: float  # share of pixels clearly darker than the paper
    colour_fraction: float  # share of pixels with visible chroma
    midtone_fraction: float  # share of ink pixels that are neither paper nor solid ink


@dataclass(frozen=True)
class Encoding:
    """One rung of a quality ladder: how to write a page."""

    method: EncodingMethod
    dpi: int | None = None  # target effective dpi (None for original)
    quality: int | None = None  # JPEG quality (None otherwise; for mrc the background's)
    background_dpi: int | None = None  # mrc only: the background's dpi (dpi is the text mask's)

    @property
    def label(self) -> str:
        if self.method == "original":
            return "original"
        if self.method == "mrc":
            return f"mrc@{self.dpi}/{self.background_dpi}q{self.quality}"
        if self.method in ("g4", "flate-grey2", "flate-grey4", "lossless"):
            return f"{self.method}@{self.dpi}"
        return f"{self.method}@{self.dpi}q{self.quality}"


@dataclass(frozen=True)
class Candidate:
    """An encoding of one page with its exact encoded size."""

    encoding: Encoding
    bytes_: int  # bytes of the encoded image stream (or the original page)
    dpi: float  # effective dpi of the result
    width_px: int
    height_px: int
    spool_index: int = 0  # which spooled rendition holds it (0 = the original, i = ladder rung i)
    # False: an original measured but not spooled; the assembler makes it again from the source.
    spooled: bool = True


@dataclass(frozen=True)
class PageAnalysis:
    """A page, its class, and its candidates best-quality first (all measured)."""

    page: SourcePage
    page_class: PageClass
    candidates: tuple[Candidate, ...]
    spool_key: str = ""  # names this page's spooled renditions (see encode.spool_path)
    # Ladder rungs (1-based) already tried on this page: encoded, or found not to apply or not
    # smaller than the original. A later pass asks only for the others.
    tried: tuple[int, ...] = ()
    # page_class is classify.rough_class's (a page only looked at, its original kept): a pass
    # that decodes the page in full classifies it again before choosing its rungs.
    rough_class: bool = False


@dataclass(frozen=True)
class DocumentKind:
    """A document kind as the profile defines it."""

    key: str
    name_ja: str
    name_en: str
    order: int  # checklist position (lower first)
    mail_priority: int  # lower is mailed first when the upload cannot fit
    colour: bool  # colour matters (passport, photo pages, seals)
    aliases: tuple[str, ...] = ()
    titles: tuple[str, ...] = ()  # printed titles that name this kind on a first page
    words: tuple[str, ...] = ()  # other printed words that point to it when no title is read
    back_words: tuple[str, ...] = ()  # words printed on its back side (a card)


@dataclass(frozen=True)
class Document:
    """The pages of one document, in order, with their analyses."""

    key: str  # "passport", "other-bank-letter"
    kind: DocumentKind
    title: str  # human title ("旅券 Passport")
    inputs: tuple[InputFile, ...]
    pages: tuple[PageAnalysis, ...]
    dropped_blank: tuple[SourcePage, ...] = ()


@dataclass(frozen=True)
class PlannedDocument:
    document: Document
    destination: Destination
    choice: tuple[int, ...]  # candidate index chosen per page (upload), 0 for mail
    file_name: str  # "03-passport.pdf"
    reason: str = ""  # why mailed, when mailed


@dataclass(frozen=True)
class Plan:
    limit_bytes: int
    budget_bytes: int  # what the document PDFs may take: limit − photo − reserves
    reserved_bytes: int  # photo + declaration reserve + per-file overhead
    documents: tuple[PlannedDocument, ...]
    level: int  # the uniform ladder level reached (0 = best)

    @property
    def mailed(self) -> tuple[PlannedDocument, ...]:
        return tuple(d for d in self.documents if d.destination == "mail")

    @property
    def uploaded(self) -> tuple[PlannedDocument, ...]:
        return tuple(d for d in self.documents if d.destination == "upload")


@dataclass(frozen=True)
class DocumentSummary:
    """What the forms (declaration, cover sheet) need to know of one document."""

    key: str
    name_ja: str
    name_en: str
    pages: int
    file_name: str  # file name in OUT/upload or OUT/mail

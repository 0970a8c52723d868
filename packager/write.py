"""Write one plan into OUT: what the fit loop calls for every attempt.

The upload documents (assembled from the spooled one-page PDFs the plan chose), the ID
photo, the mailed documents (at the source's full quality, each with a pristine copy for
`stamp`) and, when something is mailed, the declaration (uploaded: its bytes count) and the
cover sheet. Every file is written atomically and described as it is on disk (OutputRecord).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from packager import assemble, encode, outputs, pool
from packager.atomic import AtomicBatch
from packager.errors import OutputError, first_line
from packager.model import CaseInfo, DocumentSummary, Plan, PlannedDocument, SourcePage
from packager.result import OutputRecord, PageRecord

MAIL_SPOOL_INDEX = 99  # spool slot of a page's full-quality rendition for the mail
SINGLE_PDF = ("application-documents", "申請資料一式 Application documents")  # the legacy one-file mode
DECLARATION_TITLE = ("資料添付に係る申告書", "Declaration Regarding Attached Documents")
COVER_TITLE = ("送付状", "Cover sheet")
PHOTO_TITLE = ("写真", "ID photo")


@dataclass(frozen=True)
class Photo:
    """The ID photo of the files mode: its source page and the JPEG written to OUT/upload."""

    page: SourcePage
    jpeg: bytes


@dataclass(frozen=True)
class Target:
    """What every write of one build shares."""

    out_dir: Path
    spool: Path  # where the workers left each page's one-page PDFs
    single_pdf: bool  # the legacy mode: every uploaded document in one PDF
    case: CaseInfo
    form_date: dt.date  # the date the forms print
    photo: Photo | None
    jobs: int  # worker processes for the mailed pages


def write_plan(target: Target, the_plan: Plan) -> tuple[OutputRecord, ...]:
    """Every file of `the_plan` in OUT; the records in manifest order. The uploaded documents
    and the photo are made durable together (outputs.written_together), before the mailed
    pages' workers are forked."""
    with outputs.written_together(target.out_dir) as batch:
        uploaded = (*_write_upload(target, the_plan, batch), *_write_photo(target, batch))
    uploaded = outputs.with_digests(target.out_dir, uploaded, batch)
    return (
        *uploaded,
        *_write_mail(target, the_plan),
        *_write_forms(target, the_plan),
    )


def summaries(planned: Sequence[PlannedDocument]) -> list[DocumentSummary]:
    """What the forms list of each planned document."""
    return [
        DocumentSummary(
            key=d.document.key,
            name_ja=d.document.kind.name_ja if not d.document.key.startswith("other-") else d.document.title,
            name_en=d.document.kind.name_en,
            pages=len(d.document.pages),
            file_name=d.file_name,
        )
        for d in planned
    ]


def declaration_bytes(case: CaseInfo, uploaded: list[DocumentSummary], mailed: list[DocumentSummary],
                      on: dt.date) -> int:
    """The size of the declaration listing these documents (the fit loop's reserve)."""
    from packager.forms.declaration import render_declaration  # see _write_forms

    return len(render_declaration(case, uploaded, mailed, on))


# A page of an upload document: its spooled one-page PDF, or the page whose original it takes.
PagePdf = Path | SourcePage


def _page_records(d: PlannedDocument, spool: Path) -> tuple[list[PagePdf], list[PageRecord]]:
    """The one-page PDFs a planned upload document is made of, and their records."""
    paths: list[PagePdf] = []
    records: list[PageRecord] = []
    for analysis, choice in zip(d.document.pages, d.choice, strict=True):
        cand = analysis.candidates[choice]
        if not cand.spooled:  # an original measured in the worker, not spooled (encode._kept_original)
            paths.append(analysis.page)
        else:
            paths.append(encode.spool_path(spool, analysis.spool_key, cand.spool_index))
        records.append(
            PageRecord(analysis.page.input.path, analysis.page.page_index, cand.encoding.label, cand.dpi, cand.bytes_)
        )
    return paths, records


def _write_upload(target: Target, the_plan: Plan, batch: AtomicBatch) -> list[OutputRecord]:
    if target.single_pdf:
        groups = [(SINGLE_PDF[0], SINGLE_PDF[1], the_plan.uploaded)] if the_plan.uploaded else []
    else:
        groups = [(d.document.key, d.document.title, (d,)) for d in the_plan.uploaded]
    written = []
    for key, title, docs in groups:
        paths: list[PagePdf] = []
        records: list[PageRecord] = []
        for d in docs:
            p, r = _page_records(d, target.spool)
            paths += p
            records += r
        name = f"{key}.pdf" if target.single_pdf else docs[0].file_name
        names = (docs[0].document.kind.name_ja, docs[0].document.kind.name_en) if len(docs) == 1 else (None, None)
        written.append(outputs.write_output(
            target.out_dir,
            f"{outputs.UPLOAD}/{name}",
            lambda f, paths=paths, title=title, records=records: assemble.assemble_pdf(
                [_page_pdf(p) for p in paths], title, f, _identity(title, records)),
            destination=outputs.UPLOAD,
            document=key,
            title=title,
            pages=records,
            name_ja=names[0],
            name_en=names[1],
            batch=batch,
        ))
    return written


def _identity(title: str, records: Sequence[PageRecord]) -> bytes:
    """What a written document is made of, for its /ID (assemble_pdf): its title and, page by
    page, the source file and page, the encoding and its exact size — sizes to the byte that
    another document would share only by chance. Not the sources' digests: two scans of the
    same pages differ in their own /IDs, and their uploads are the same bytes."""
    lines = [title, *(f"{r.source}\t{r.source_page}\t{r.encoding}\t{r.dpi}\t{r.bytes_}" for r in records)]
    return "\n".join(lines).encode("utf-8")


def _page_pdf(item: PagePdf) -> Path | bytes:
    """A spooled page as it is; an original made again from its source, as the worker made it
    to measure it (the same page, the same length: encode.original_page_pdf)."""
    if isinstance(item, Path):
        return item
    where = f"{item.input.path}: page {item.page_index + 1}"
    try:
        data = encode.original_page_pdf(item)
    except Exception as e:
        raise OutputError(f"{where} can no longer be copied ({first_line(e)}); was it changed during the build?") from e
    if data is None:
        raise OutputError(f"{where} can no longer be copied; was it changed during the build?")
    return data


def _write_photo(target: Target, batch: AtomicBatch) -> list[OutputRecord]:
    photo = target.photo
    if photo is None:
        return []
    page = PageRecord(photo.page.input.path, 0, "jpeg-photo", 0.0, len(photo.jpeg))
    return [outputs.write_output(
        target.out_dir, f"{outputs.UPLOAD}/photo.jpg", photo.jpeg, destination=outputs.UPLOAD, document="photo",
        title=" ".join(PHOTO_TITLE), pages=[page], name_ja=PHOTO_TITLE[0], name_en=PHOTO_TITLE[1], batch=batch,
    )]


def _write_mail(target: Target, the_plan: Plan) -> list[OutputRecord]:
    """Mailed documents at the source's full quality, each with a pristine copy for `stamp`."""
    written = []
    for d in the_plan.mailed:
        # Full quality can mean 150 MB for a 60-page statement: pages go through the spool
        # and the document is written streaming, never held whole in memory.
        spooled = [
            (a.page, a.page_class, encode.spool_path(target.spool, a.spool_key, MAIL_SPOOL_INDEX))
            for a in d.document.pages
        ]
        made = pool.write_mail_pages(spooled, target.jobs)
        records = [
            PageRecord(a.page.input.path, a.page.page_index, how, round(a.page.native_dpi, 1), size)
            for a, (size, how) in zip(d.document.pages, made, strict=True)
        ]
        paths = [path for _, _, path in spooled]
        rel = f"{outputs.MAIL}/{d.file_name}"
        pristine = f"{outputs.PRISTINE}/{d.file_name}"
        o = outputs.write_output(
            target.out_dir,
            rel,
            lambda f, paths=paths, title=d.document.title, records=records: assemble.assemble_pdf(
                paths, title, f, _identity(title, records)),
            destination=outputs.MAIL,
            document=d.document.key,
            title=d.document.title,
            pages=records,
            name_ja=d.document.kind.name_ja,
            name_en=d.document.kind.name_en,
            pristine=pristine,
            reason=d.reason,
        )
        outputs.link_pristine(target.out_dir, rel, pristine)
        written.append(o)
    return written


def _write_forms(target: Target, the_plan: Plan) -> list[OutputRecord]:
    """The declaration (uploaded: its bytes count) and the cover sheet, when something is mailed."""
    if not the_plan.mailed:
        return []
    # Imported here: reportlab costs ~0.1 s of start-up, and most builds mail nothing.
    from packager.forms.cover import render_cover_sheet
    from packager.forms.declaration import render_declaration

    mailed = summaries(the_plan.mailed)
    declaration = render_declaration(target.case, summaries(the_plan.uploaded), mailed, target.form_date)
    cover = render_cover_sheet(target.case, mailed, None, None, target.form_date)
    return [
        outputs.write_output(
            target.out_dir, outputs.DECLARATION, declaration, destination=outputs.UPLOAD,
            document=outputs.DECLARATION_DOCUMENT, title=" ".join(DECLARATION_TITLE),
            name_ja=DECLARATION_TITLE[0], name_en=DECLARATION_TITLE[1],
        ),
        outputs.write_output(
            target.out_dir, outputs.COVER_SHEET, cover, destination=outputs.MAIL, document=outputs.COVER_DOCUMENT,
            title=" ".join(COVER_TITLE), name_ja=COVER_TITLE[0], name_en=COVER_TITLE[1],
        ),
    ]

"""The library API: the one place that knows the order of the stages.

intake → pages → classify/encode (workers) → plan → assemble → forms → outputs.
The CLI and the watcher are thin faces over `package`, `check` and `stamp`.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from packager import assemble, encode, intake, outputs, pages, plan, pool, recognise
from packager.errors import DoesNotFit, ExitCode, NothingToPackage
from packager.model import (
    CaseInfo,
    Document,
    DocumentKind,
    DocumentSummary,
    InputFile,
    OutputFile,
    OutputPage,
    PageAnalysis,
    Plan,
    Rejection,
    SourcePage,
)
from packager.options import BuildOptions
from packager.pool import ProgressFn
from packager.profiles import SystemProfile, load_kinds, load_system_profile

if TYPE_CHECKING:  # imported lazily at call time: forms pull in reportlab
    from packager.outbox import StampResult

MAIL_SPOOL_INDEX = 99  # spool slot of a page's full-quality rendition for the mail


@dataclass(frozen=True)
class BuildResult:
    out_dir: Path
    manifest_path: Path
    limit_bytes: int
    upload_bytes: int  # measured on disk: every file in OUT/upload
    outputs: tuple[OutputFile, ...]
    rejections: tuple[Rejection, ...]
    mailed: tuple[str, ...]  # document keys sent to OUT/mail
    page_count: int  # pages written (upload + mail)
    exit_code: ExitCode  # OK, or INPUTS_REJECTED when some inputs were rejected
    manifest: dict[str, Any]


def _document_title(kind: DocumentKind, key: str, inputs: Sequence[InputFile]) -> str:
    if key.startswith("other-") and inputs:
        return f"{kind.name_ja} {Path(inputs[0].path).stem}"
    return f"{kind.name_ja} {kind.name_en}"


def _order_kinds(case: CaseInfo) -> dict[str, tuple[int, int]]:
    """(checklist position, mail priority) per kind: the application's checklist, else kinds.toml."""
    kinds = load_kinds()
    order = {k: (v.order, v.mail_priority) for k, v in kinds.items()}
    checklist = _load_checklist(case)
    if checklist is not None:
        for entry in checklist.entries:
            order[entry.kind] = (entry.order, entry.mail_priority)
    return order


DEFAULT_OPTIONS = BuildOptions()


def package(
    case_dir: Path, out_dir: Path, options: BuildOptions = DEFAULT_OPTIONS, *, progress: ProgressFn | None = None
) -> BuildResult:
    """Build OUT from CASE_DIR. Raises PackagerError subclasses for whole-case failures."""
    case_dir, out_dir = Path(case_dir), Path(out_dir)
    if not case_dir.is_dir():
        raise NothingToPackage(f"{case_dir}: no such case folder")
    system = load_system_profile(options.profile)
    limit = options.limit_bytes or system.limit_bytes
    jobs = options.jobs or os.cpu_count() or 1
    intake_result = recognise.recognise_case(intake.scan_case(case_dir, system), system, jobs)
    case = intake_result.case
    _check_eligibility(case)
    kinds = load_kinds()
    ordering = _order_kinds(case)
    rejections = list(intake_result.rejections)

    old_outputs = outputs.prepare_out_dir(out_dir, case_dir)
    spool = out_dir / outputs.STATE / "spool"
    shutil.rmtree(spool, ignore_errors=True)
    spool.mkdir(parents=True)
    try:
        return _package(
            case_dir, out_dir, options, system, limit, jobs, intake_result, case, kinds, ordering,
            rejections, old_outputs, spool, progress,
        )
    finally:
        shutil.rmtree(spool, ignore_errors=True)


def _package(
    case_dir: Path,
    out_dir: Path,
    options: BuildOptions,
    system: SystemProfile,
    limit: int,
    jobs: int,
    intake_result: intake.CaseIntake,
    case: CaseInfo,
    kinds: dict[str, DocumentKind],
    ordering: dict[str, tuple[int, int]],
    rejections: list[Rejection],
    old_outputs: list[str],
    spool: Path,
    progress: ProgressFn | None,
) -> BuildResult:
    # ---- pages: describe every page; the ID photo is its own output in the files mode
    photo_page: SourcePage | None = None
    tasks: list[encode.PageTask] = []
    failed_inputs: dict[str, str] = {}  # accepted at intake, but a page could not be read
    originals_likely_fit = _originals_likely_fit(intake_result.inputs, limit)
    for n, inp in enumerate(intake_result.inputs):
        try:
            described = pages.describe_pages(inp, system)
        except Exception as e:  # a parser error on one file must not stop the case
            failed_inputs[inp.path] = f"cannot be read page by page ({_first_line(e)})"
            continue
        if not described:  # accepted with pages that no reader then gives: never lost silently
            failed_inputs[inp.path] = "has no page that can be read"
            continue
        if inp.kind == "photo" and system.mode == "files" and photo_page is None:
            photo_page = described[0]
            continue
        kind = kinds.get(inp.kind, kinds["other"])
        for p in described:
            tasks.append(
                encode.PageTask(
                    page=p,
                    task_id=f"{n:04d}-{p.page_index:05d}",
                    ladders=system.ladders,
                    max_dpi=system.max_dpi,
                    colour_hint=kind.colour,
                    spool_dir=spool,
                    keep_blank=options.keep_blank_pages,
                    first_pass=system.first_pass_rungs,
                    rungs=() if originals_likely_fit and encode.original_possible(p) else None,
                    lossless=originals_likely_fit,
                )
            )

    # ---- classify + encode every page at every rung (workers), in page order
    analyses: dict[str, list[PageAnalysis]] = {}
    dropped: list[dict[str, Any]] = []
    for result in pool.analyse_pages(tasks, jobs, progress, _limits(system)):
        path = result.page.input.path
        if isinstance(result, encode.PageFailure):
            failed_inputs.setdefault(path, result.reason)
            continue
        if not result.candidates:
            dropped.append({"source": path, "source_page": result.page.page_index, "reason": "blank page"})
            continue
        analyses.setdefault(path, []).append(result)
    for path, reason in failed_inputs.items():
        rejections.append(Rejection(path, reason))
        analyses.pop(path, None)
        dropped = [d for d in dropped if d["source"] != path]

    # ---- documents, in checklist order
    documents = _group_documents(intake_result.inputs, analyses, failed_inputs, kinds, ordering)
    photo_bytes = b""
    if photo_page is not None:
        try:
            photo_bytes = assemble.make_photo(
                photo_page, system.photo_width_px, system.photo_height_px, system.photo_jpeg_quality
            )
        except Exception as e:
            failed_inputs[photo_page.input.path] = f"the photo cannot be decoded ({_first_line(e)})"
            rejections.append(Rejection(photo_page.input.path, failed_inputs[photo_page.input.path]))
            photo_page = None
    if not documents and photo_page is None:
        reasons = "; ".join(f"{r.path}: {r.reason}" for r in rejections) or "the folder holds no scans"
        raise NothingToPackage(f"{case_dir}: nothing to package ({reasons})")

    file_names = {d.key: f"{i:02d}-{d.key}.pdf" for i, d in enumerate(documents, 1)}
    budget = plan.Budget(
        limit_bytes=limit,
        fixed_bytes=len(photo_bytes),
        declaration_reserve_bytes=0,  # set below, only if something has to be mailed
        per_file_overhead_bytes=system.per_file_overhead_bytes,
        single_file=system.mode == "single-pdf",
    )

    # ---- the lower rungs, only when the best rung of every page does not fit
    if not plan.fits_without_mail(documents, budget):
        documents = _encode_lower_rungs(documents, tasks, system, jobs, progress)
    if not plan.fits_without_mail(documents, budget):
        reserve = _declaration_reserve(case, documents, file_names, system)
        budget = replace(budget, declaration_reserve_bytes=reserve)

    # ---- plan, write, measure on disk; tighten and redo if the measurement disagrees
    written: list[tuple[OutputFile, dict[str, Any]]] = []
    for _attempt in range(4):
        the_plan = plan.plan_budget(documents, budget, file_names)
        if the_plan.mailed and not budget.declaration_reserve_bytes:
            # Mailing after all (a re-plan tightened by a measurement): hold the declaration's room.
            reserve = _declaration_reserve(case, documents, file_names, system)
            budget = replace(budget, declaration_reserve_bytes=reserve)
            the_plan = plan.plan_budget(documents, budget, file_names)
        written = _write_outputs(out_dir, the_plan, system, case, photo_bytes, photo_page, spool, jobs)
        upload_total = outputs.upload_bytes_on_disk(out_dir)
        if upload_total <= limit:
            break
        overshoot = upload_total - limit
        budget = replace(budget, fixed_bytes=budget.fixed_bytes + overshoot + 4096)
    new_paths = [o.path for o, _ in written] + [e["pristine"] for _, e in written if "pristine" in e]
    outputs.remove_stale(out_dir, old_outputs, new_paths)

    # ---- manifest, last
    accepted = [(inp, "") for inp in intake_result.inputs if inp.path not in failed_inputs]
    mailed = [
        {"document": d.document.key, "title": d.document.title, "file": f"{outputs.MAIL}/{d.file_name}",
         "reason": d.reason}
        for d in the_plan.mailed
    ]
    found: dict[str, list[str]] = {}
    for inp in intake_result.inputs:
        if inp.path not in failed_inputs:
            found.setdefault(inp.kind, []).append(inp.path)
    checklist_json = _checklist_json(case, found)
    manifest = outputs.build_manifest(
        profile=system.name,
        limit_bytes=limit,
        upload_bytes=upload_total,
        case=case,
        inputs=accepted,
        rejections=rejections,
        ignored=intake_result.ignored,
        outputs=written,
        mailed=mailed,
        dropped_pages=dropped,
        plan={
            "level": the_plan.level,
            "budget_bytes": the_plan.budget_bytes,
            "reserved_bytes": the_plan.reserved_bytes,
            "mode": system.mode,
        },
        checklist=checklist_json,
        built_on=dt.date.today(),
        warnings=intake_result.warnings,
    )
    manifest_path = outputs.write_manifest(out_dir, manifest)
    if upload_total > limit:
        raise DoesNotFit(f"{out_dir}: the upload measures {upload_total:,} bytes, over the limit of {limit:,}")
    return BuildResult(
        out_dir=out_dir,
        manifest_path=manifest_path,
        limit_bytes=limit,
        upload_bytes=upload_total,
        outputs=tuple(o for o, _ in written),
        rejections=tuple(rejections),
        mailed=tuple(d.document.key for d in the_plan.mailed),
        page_count=sum(len(o.pages) for o, _ in written),
        exit_code=ExitCode.INPUTS_REJECTED if rejections else ExitCode.OK,
        manifest=manifest,
    )


def _declaration_reserve(
    case: CaseInfo, documents: Sequence[Document], file_names: dict[str, str], system: SystemProfile
) -> int:
    """Bytes to hold back for the declaration when something is mailed: the declaration as
    it would be with every document listed (its largest form), plus the profile's margin."""
    summaries = [
        DocumentSummary(d.key, d.kind.name_ja, d.kind.name_en, len(d.pages), file_names[d.key]) for d in documents
    ]
    largest = _render_declaration(case, summaries, summaries, _form_date(case))
    return len(largest) + system.declaration_reserve_bytes


# Assumed size of a page that has no original stream to keep (PNG, TIFF, HEIC …) at the best
# rung, for the guess below: a 300 dpi A4 colour page at JPEG q80 is ~0.5–1.2 MB.
_NON_ORIGINAL_PAGE_GUESS_BYTES = 1_500_000


def _originals_likely_fit(inputs: Sequence[InputFile], limit: int) -> bool:
    """Whether the case will most likely fit with every JPEG/PNG file and PDF page kept as it is.

    Then the first pass keeps originals without encoding them (it still decodes each page to
    classify it and find blank backs); if the guess is wrong, the second pass encodes them.
    """
    total = 0
    for inp in inputs:
        if inp.format in ("jpeg", "pdf") or (inp.format == "png" and inp.page_count == 1):
            total += inp.bytes_
        else:
            total += inp.page_count * _NON_ORIGINAL_PAGE_GUESS_BYTES
    return total <= limit * 0.9


def _encode_lower_rungs(
    documents: list[Document],
    tasks: Sequence[encode.PageTask],
    system: SystemProfile,
    jobs: int,
    progress: ProgressFn | None,
) -> list[Document]:
    """Second pass: encode every remaining rung of the pages whose ladder has more than one."""
    by_key = {t.task_id: t for t in tasks}
    second: list[encode.PageTask] = []
    for d in documents:
        for a in d.pages:
            task = by_key[a.spool_key]
            ladder = system.ladders[a.page_class.name]
            if task.rungs == ():  # originals only so far: every rung
                rest = tuple(range(1, len(ladder) + 1))
            else:
                done_rungs = system.first_pass_rungs.get(a.page_class.name, len(ladder))
                rest = tuple(range(done_rungs + 1, len(ladder) + 1))
            if rest:
                second.append(replace(task, rungs=rest, known=a))
    done: dict[str, PageAnalysis] = {}
    for result in pool.analyse_pages(second, jobs, progress, _limits(system)):
        if isinstance(result, PageAnalysis):  # a page decoded once decodes again; if not, keep pass one
            done[result.spool_key] = result
    return [
        replace(d, pages=tuple(done.get(a.spool_key, a) for a in d.pages)) for d in documents
    ]


def _group_documents(
    inputs: Sequence[InputFile],
    analyses: dict[str, list[PageAnalysis]],
    failed: dict[str, str],
    kinds: dict[str, DocumentKind],
    ordering: dict[str, tuple[int, int]],
) -> list[Document]:
    by_doc: dict[str, list[InputFile]] = {}
    for inp in inputs:
        if inp.path in failed or inp.path not in analyses:
            continue
        by_doc.setdefault(inp.document, []).append(inp)
    docs = []
    for key, doc_inputs in by_doc.items():
        base = kinds.get(doc_inputs[0].kind, kinds["other"])
        order, priority = ordering.get(base.key, (base.order, base.mail_priority))
        kind = DocumentKind(base.key, base.name_ja, base.name_en, order, priority, base.colour, base.aliases)
        page_list = tuple(p for inp in doc_inputs for p in analyses[inp.path])
        title = _document_title(kind, key, doc_inputs)
        docs.append(Document(key=key, kind=kind, title=title, inputs=tuple(doc_inputs), pages=page_list))
    docs.sort(key=lambda d: (d.kind.order, d.key))
    return docs


def _summaries(planned: Sequence[plan.PlannedDocument]) -> list[DocumentSummary]:
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


def _page_records(d: plan.PlannedDocument, spool: Path) -> tuple[list[Path], list[OutputPage]]:
    """The spooled one-page PDFs a planned upload document is made of, and their records."""
    paths, records = [], []
    for analysis, choice in zip(d.document.pages, d.choice, strict=True):
        cand = analysis.candidates[choice]
        paths.append(encode.spool_path(spool, analysis.spool_key, cand.spool_index))
        records.append(
            OutputPage(analysis.page.input.path, analysis.page.page_index, cand.encoding.label, cand.dpi, cand.bytes_)
        )
    return paths, records


def _names(d: plan.PlannedDocument) -> dict[str, Any]:
    return {"name_ja": d.document.kind.name_ja, "name_en": d.document.kind.name_en}


def _write_upload(
    out_dir: Path, the_plan: Plan, system: SystemProfile, spool: Path
) -> list[tuple[OutputFile, dict[str, Any]]]:
    written = []
    if system.mode == "single-pdf":
        groups = [("application-documents", "申請資料一式 Application documents", the_plan.uploaded)]
        groups = [g for g in groups if g[2]]
        rel_names = {"application-documents": f"{outputs.UPLOAD}/application-documents.pdf"}
    else:
        groups = [(d.document.key, d.document.title, (d,)) for d in the_plan.uploaded]
        rel_names = {d.document.key: f"{outputs.UPLOAD}/{d.file_name}" for d in the_plan.uploaded}
    for key, title, docs in groups:
        paths: list[Path] = []
        records: list[OutputPage] = []
        for d in docs:
            p, r = _page_records(d, spool)
            paths += p
            records += r
        o = outputs.write_output(
            out_dir,
            rel_names[key],
            lambda f, paths=paths, title=title: assemble.assemble_pdf(paths, title, f),
            destination="upload",
            document=key,
            title=title,
            pages=records,
        )
        written.append((o, _names(docs[0]) if len(docs) == 1 else {}))
    return written


def _write_mail(
    out_dir: Path, the_plan: Plan, spool: Path, jobs: int
) -> list[tuple[OutputFile, dict[str, Any]]]:
    """Mailed documents at the source's full quality, each with a pristine copy for `stamp`."""
    written = []
    for d in the_plan.mailed:
        # Full quality can mean 150 MB for a 60-page statement: pages go through the spool
        # and the document is written streaming, never held whole in memory.
        spooled = [
            (a.page, a.page_class, encode.spool_path(spool, a.spool_key, MAIL_SPOOL_INDEX)) for a in d.document.pages
        ]
        made = pool.write_mail_pages(spooled, jobs)
        records = [
            OutputPage(a.page.input.path, a.page.page_index, how, round(a.page.native_dpi, 1), size)
            for a, (size, how) in zip(d.document.pages, made, strict=True)
        ]
        paths = [path for _, _, path in spooled]
        common = {"destination": "mail", "document": d.document.key, "title": d.document.title}
        o = outputs.write_output(
            out_dir,
            f"{outputs.MAIL}/{d.file_name}",
            lambda f, paths=paths, title=d.document.title: assemble.assemble_pdf(paths, title, f),
            pages=records,
            **common,
        )
        pristine = f"{outputs.PRISTINE}/{d.file_name}"
        outputs.link_pristine(out_dir, o.path, pristine)
        written.append((o, {**_names(d), "pristine": pristine, "reason": d.reason}))
    return written


def _write_forms(
    out_dir: Path, the_plan: Plan, case: CaseInfo
) -> list[tuple[OutputFile, dict[str, Any]]]:
    """The declaration (uploaded: its bytes count) and the cover sheet, when something is mailed."""
    if not the_plan.mailed:
        return []
    on = _form_date(case)
    mailed = _summaries(the_plan.mailed)
    declaration = _render_declaration(case, _summaries(the_plan.uploaded), mailed, on)
    cover = _render_cover_sheet(case, mailed, None, None, on)
    d_title = ("資料添付に係る申告書", "Declaration Regarding Attached Documents")
    c_title = ("送付状", "Cover sheet")
    d = outputs.write_output(
        out_dir, f"{outputs.UPLOAD}/00-declaration.pdf", declaration,
        destination="upload", document="declaration", title=" ".join(d_title),
    )
    c = outputs.write_output(
        out_dir, f"{outputs.MAIL}/00-cover-sheet.pdf", cover,
        destination="mail", document="cover-sheet", title=" ".join(c_title),
    )
    return [
        (d, {"name_ja": d_title[0], "name_en": d_title[1]}),
        (c, {"name_ja": c_title[0], "name_en": c_title[1]}),
    ]


def _write_outputs(
    out_dir: Path,
    the_plan: Plan,
    system: SystemProfile,
    case: CaseInfo,
    photo_bytes: bytes,
    photo_page: SourcePage | None,
    spool: Path,
    jobs: int,
) -> list[tuple[OutputFile, dict[str, Any]]]:
    written = _write_upload(out_dir, the_plan, system, spool)
    if photo_bytes and photo_page is not None:
        o = outputs.write_output(
            out_dir, f"{outputs.UPLOAD}/photo.jpg", photo_bytes, destination="upload", document="photo",
            title="写真 ID photo", pages=[OutputPage(photo_page.input.path, 0, "jpeg-photo", 0.0, len(photo_bytes))],
        )
        written.append((o, {"name_ja": "写真", "name_en": "ID photo"}))
    written += _write_mail(out_dir, the_plan, spool, jobs)
    written += _write_forms(out_dir, the_plan, case)
    return written


# ---- the later stages and the profile checks, imported where used so that a profile
# problem surfaces as the ProfileError of the call that needs it.


def _load_checklist(case: CaseInfo) -> Any:
    from packager import checklist

    return checklist.load_checklist(case)


def _check_eligibility(case: CaseInfo) -> None:
    from packager import eligibility

    eligibility.check_eligibility(case)


def _checklist_json(case: CaseInfo, found: dict[str, list[str]]) -> dict[str, Any] | None:
    from packager import checklist

    cl = checklist.load_checklist(case)
    if cl is None:
        return None
    return checklist.report_json(checklist.match_checklist(cl, found))


def _form_date(case: CaseInfo) -> dt.date:
    """The date printed on forms: case.toml's `date`, else today."""
    for key, value in case.extra:
        if key == "date":
            try:
                return dt.date.fromisoformat(value[:10])
            except ValueError:
                break
    return dt.date.today()


def _render_declaration(
    case: CaseInfo, uploaded: list[DocumentSummary], mailed: list[DocumentSummary], on: dt.date
) -> bytes:
    from packager.forms.declaration import render_declaration

    return render_declaration(case, uploaded, mailed, on)


def _render_cover_sheet(
    case: CaseInfo, mailed: list[DocumentSummary], receipt: str | None, filed: dt.date | None, on: dt.date
) -> bytes:
    from packager.forms.cover import render_cover_sheet

    return render_cover_sheet(case, mailed, receipt, filed, on)


def _limits(system: SystemProfile) -> pool.PageLimits:
    return pool.PageLimits(time_s=system.page_time_limit_s, memory_bytes=system.page_memory_limit_mb * 1_000_000)


def _first_line(e: BaseException) -> str:
    lines = str(e).strip().splitlines()
    return lines[0][:160] if lines else type(e).__name__


@dataclass(frozen=True)
class CheckReport:
    text: str  # what `packager check` prints
    ready: bool  # every required document present, nothing refused, photo fine
    exit_code: ExitCode
    projected_upload_bytes: int
    limit_bytes: int


def check(case_dir: Path, options: BuildOptions = DEFAULT_OPTIONS, *, today: dt.date | None = None) -> CheckReport:
    """Check a case before building; writes nothing. Raises NotEligibleOnline (exit 7)."""
    from packager import readiness
    from packager.profiles_cli import render_checklist_report

    case_dir = Path(case_dir)
    if not case_dir.is_dir():
        raise NothingToPackage(f"{case_dir}: no such case folder")
    today = today or dt.date.today()
    system = load_system_profile(options.profile)
    limit = options.limit_bytes or system.limit_bytes
    found = recognise.recognise_case(intake.scan_case(case_dir, system), system, options.jobs or os.cpu_count() or 1)
    case = found.case
    _check_eligibility(case)
    lines = [f"Case {case_dir}: {case.application or '(no application in case.toml)'} / {case.status or '-'}"]
    lines.append("Eligibility: can be filed online" if case.application else "Eligibility: not judged (no case.toml)")
    ready = True
    checklist = _load_checklist(case)
    limits: dict[str, int] = {}
    if checklist is not None:
        from packager import checklist as checklist_mod

        kinds_found: dict[str, list[str]] = {}
        for inp in found.inputs:
            kinds_found.setdefault(inp.kind, []).append(inp.path)
        report = checklist_mod.match_checklist(checklist, kinds_found)
        lines += ["", render_checklist_report(report)]
        ready = ready and not report.missing_required
        limits = {e.kind: e.issued_within_months for e in checklist.entries if e.issued_within_months}
    unknown = [i.path for i in found.inputs if i.kind == "other"]
    if unknown:
        lines += ["", "Files whose kind packager could not tell (name them, or map them in case.toml [documents]):"]
        lines += [f"  {p}" for p in unknown]
    if found.rejections:
        ready = False
        lines += ["", "Rejected files:"] + [f"  {r.path}: {r.reason}" for r in found.rejections]
    findings = readiness.check_photo(readiness.photo_page(found.inputs, system), case, today)
    findings += readiness.check_issue_dates(case, limits, today)
    lines += ["", "Photo and dates:"] + [f"  {'ok ' if f.ok else 'NO '} {f.text}" for f in findings]
    ready = ready and all(f.ok for f in findings)
    projected = readiness.project_upload_bytes(found.inputs, system)
    fits = projected <= limit
    lines += [
        "",
        f"Projected upload at best quality: ~{projected / 1e6:.1f} MB of {limit / 1e6:.1f} MB "
        + ("(fits as it is)" if fits else "(build will compress, or mail the lowest-priority documents)"),
        "",
        "READY to build" if ready else "NOT READY: see the lines marked MISSING, NO or rejected above",
    ]
    code = ExitCode.OK if ready else ExitCode.CHECKLIST_INCOMPLETE
    return CheckReport("\n".join(lines), ready, code, projected, limit)


def stamp(out_dir: Path, receipt: str, filing_date: dt.date | None = None) -> StampResult:
    """Stamp the mailed set in OUT with the application receipt number (see packager.outbox.stamp)."""
    from packager import outbox

    return outbox.stamp(out_dir, receipt, filing_date)


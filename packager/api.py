"""The library API: the one place that knows the order of the stages.

    package:  intake → pages (passes.describe) → classify/encode in workers (passes.first_pass;
              meanwhile the inputs' digests and kinds read from content, _read_alongside)
              → documents in checklist order → the second pass if needed → the fit loop
              (fit.fit_upload: plan → write → measure) → manifest.json, last
    check:    intake → eligibility → readiness.assess (records; the faces render them)
    stamp:    packager.outbox.stamp

Each step is a call into the module that owns it; this module only passes records along.
The CLI, the watcher and the desk are faces over these calls.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from packager import __version__, assemble, documents, fit, intake, outputs, passes, plan, readiness, recognise, write
from packager.checklist import Checklist, load_checklist, match_checklist
from packager.eligibility import check_eligibility
from packager.errors import DoesNotFit, ExitCode, NothingToPackage, UsageError, first_line
from packager.model import CaseInfo, Document, DocumentKind, DocumentSummary, Rejection
from packager.options import BuildOptions
from packager.pages import close_open_pdfs
from packager.pool import Aside, AsideDied, ProgressFn
from packager.profiles import SystemProfile, load_kinds, load_system_profile
from packager.profiles_text import checklist_record
from packager.result import (
    BuildRecord,
    CaseRecord,
    DroppedPageRecord,
    InputRecord,
    MailedRecord,
    OutputRecord,
    PlanRecord,
)

if TYPE_CHECKING:
    from packager.outbox import StampResult

DEFAULT_OPTIONS = BuildOptions()


@dataclass(frozen=True)
class BuildResult:
    out_dir: Path
    manifest_path: Path
    limit_bytes: int
    upload_bytes: int  # measured on disk: every file in OUT/upload
    outputs: tuple[OutputRecord, ...]
    rejections: tuple[Rejection, ...]
    mailed: tuple[str, ...]  # document keys sent to OUT/mail
    page_count: int  # pages written (upload + mail)
    exit_code: ExitCode  # OK, or INPUTS_REJECTED when some inputs were rejected
    record: BuildRecord  # what manifest.json says


@dataclass(frozen=True)
class _Build:
    """What every stage of one build shares: set once, before the first page is read."""

    case_dir: Path
    out_dir: Path
    spool: Path
    system: SystemProfile
    limit_bytes: int
    jobs: int
    keep_blank: bool
    # The case as intake found it: inputs not yet hashed, kinds from case.toml and names only
    # (_read_alongside completes it).
    found: intake.CaseIntake
    checklist: Checklist | None


def package(
    case_dir: Path, out_dir: Path, options: BuildOptions = DEFAULT_OPTIONS, *, progress: ProgressFn | None = None
) -> BuildResult:
    """Build OUT from CASE_DIR. Raises PackagerError subclasses for whole-case failures."""
    case_dir, out_dir = Path(case_dir), Path(out_dir)
    if not case_dir.is_dir():
        raise UsageError(f"{case_dir}: no such case folder (CASE_DIR must be an existing folder)")
    system = load_system_profile(options.profile)
    jobs = options.jobs or os.cpu_count() or 1
    found = intake.scan_case(case_dir, system, digests=False)
    check_eligibility(found.case)
    checklist = load_checklist(found.case)
    old_outputs = outputs.prepare_out_dir(out_dir, case_dir)
    spool = out_dir / outputs.SPOOL
    shutil.rmtree(spool, ignore_errors=True)
    spool.mkdir(parents=True)
    build = _Build(
        case_dir, out_dir, spool, system, options.limit_bytes or system.limit_bytes, jobs,
        options.keep_blank_pages, found, checklist,
    )
    try:
        return _package(build, old_outputs, progress)
    finally:
        close_open_pdfs()  # opened to copy originals (write.py): no input stays open after the build
        shutil.rmtree(spool, ignore_errors=True)
        outputs.prune_empty(out_dir)


def _package(build: _Build, old_outputs: list[str], progress: ProgressFn | None) -> BuildResult:
    kinds = load_kinds()
    scanned, early = _read_alongside(build, kinds, progress)
    work = _describe(build, scanned, kinds)
    first = passes.first_pass(work, build.system, build.jobs, progress, early)
    docs = documents.group_documents(scanned.inputs, first.analyses, kinds,
                                     documents.order_kinds(kinds, build.checklist))
    photo, photo_failed = _photo(work, build.system)
    failed = {**first.failed, **photo_failed}  # accepted at intake, then unreadable: rejected after all
    rejections = [*scanned.rejections, *(Rejection(p, r) for p, r in failed.items())]
    if not docs and photo is None:
        reasons = "; ".join(f"{r.path}: {r.reason}" for r in rejections) or "the folder holds no scans"
        raise NothingToPackage(f"{build.case_dir}: nothing to package ({reasons})")
    fitted = _fit(build, docs, work, photo, progress)
    outputs.remove_stale(build.out_dir, old_outputs, [p for o in fitted.outputs for p in (o.path, o.pristine) if p])
    record = _record(build, scanned, fitted, first.dropped, failed, rejections)
    manifest_path = outputs.write_manifest(build.out_dir, record)
    if not fitted.fits:
        raise DoesNotFit(f"{build.out_dir}: the upload measures {fitted.upload_bytes:,} bytes, "
                         f"over the limit of {build.limit_bytes:,}")
    return BuildResult(
        out_dir=build.out_dir,
        manifest_path=manifest_path,
        limit_bytes=build.limit_bytes,
        upload_bytes=fitted.upload_bytes,
        outputs=fitted.outputs,
        rejections=tuple(rejections),
        mailed=tuple(d.document.key for d in fitted.plan.mailed),
        page_count=sum(len(o.pages) for o in fitted.outputs),
        exit_code=ExitCode.INPUTS_REJECTED if rejections else ExitCode.OK,
        record=record,
    )


def _describe(build: _Build, scanned: intake.CaseIntake, kinds: dict[str, DocumentKind]) -> passes.PageWork:
    return passes.describe(scanned.inputs, build.system, kinds, build.spool,
                           limit_bytes=build.limit_bytes, keep_blank=build.keep_blank)


def _digests_and_kinds(found: intake.CaseIntake, system: SystemProfile, jobs: int) -> intake.CaseIntake:
    """The case with its inputs hashed and kinds read from content where nothing else gave one."""
    return recognise.recognise_case(intake.add_digests(found), system, jobs)


def _read_alongside(build: _Build, kinds: dict[str, DocumentKind], progress: ProgressFn | None
                    ) -> tuple[intake.CaseIntake, passes.EarlyPass | None]:
    """The case hashed and its kinds read from content, and the first pass's pages run
    meanwhile with the kinds known so far (passes.first_pass then redoes the pages whose kind
    read since changes them). Serial, hashing and tesseract took one core for ~0.6 s of
    the heavy bundle's 6 s while the other idled; alongside the workers they cost half that.
    With one job, one after the other: `--jobs 1` means one core."""
    if build.jobs <= 1:
        return _digests_and_kinds(build.found, build.system, build.jobs), None
    aside = Aside(_digests_and_kinds, build.found, build.system, build.jobs)
    try:
        early = passes.early_pass(_describe(build, build.found, kinds), build.system, build.jobs, progress)
        try:
            return aside.result(), early
        except AsideDied as e:  # killed from outside, or a crash in a library: the kinds stay unread
            scanned = intake.add_digests(build.found)
            unread = ", ".join(i.path for i in scanned.inputs if recognise.needs_content(i))
            if not unread:
                return scanned, early
            warning = (f"the kind of {unread} could not be read from the page ({e}) and stays 'other' "
                       "(name the files in case.toml [documents])")
            return replace(scanned, warnings=(*scanned.warnings, warning)), early
    finally:
        aside.end()


def _photo(work: passes.PageWork, system: SystemProfile) -> tuple[write.Photo | None, dict[str, str]]:
    """The ID photo of the files mode, cropped and sized; a photo that cannot be decoded is rejected."""
    page = work.photo_page
    if page is None:
        return None, {}
    try:
        jpeg = assemble.make_photo(page, system.photo_width_px, system.photo_height_px, system.photo_jpeg_quality)
    except Exception as e:
        return None, {page.input.path: f"the photo cannot be decoded ({first_line(e)})"}
    return write.Photo(page, jpeg), {}


def _fit(build: _Build, docs: list[Document], work: passes.PageWork, photo: write.Photo | None,
         progress: ProgressFn | None) -> fit.Fitted:
    """The second pass when the best rungs do not fit, then the fit loop over the written files."""
    system, case = build.system, build.found.case
    budget = plan.Budget(
        limit_bytes=build.limit_bytes,
        fixed_bytes=len(photo.jpeg) if photo else 0,
        declaration_reserve_bytes=0,  # set by the fit loop, only if something has to be mailed
        per_file_overhead_bytes=system.per_file_overhead_bytes,
        single_file=system.mode == "single-pdf",
    )
    if not plan.fits_without_mail(docs, budget):
        docs = passes.second_pass(docs, work.tasks, system, build.jobs, progress,
                                  fits=lambda more: plan.fits_without_mail(more, budget))
    names = documents.file_names(docs)
    target = write.Target(build.out_dir, build.spool, system.mode == "single-pdf", case, _form_date(case), photo,
                          build.jobs)

    def reserve() -> int:  # the declaration with every document listed (its largest form), plus a margin
        every = [DocumentSummary(d.key, d.kind.name_ja, d.kind.name_en, len(d.pages), names[d.key]) for d in docs]
        return write.declaration_bytes(case, every, every, target.form_date) + system.declaration_reserve_bytes

    return fit.fit_upload(
        docs, budget, names,
        write=lambda the_plan: write.write_plan(target, the_plan),
        measure=lambda: outputs.upload_bytes_on_disk(build.out_dir),
        declaration_reserve=reserve,
    )


def _record(build: _Build, scanned: intake.CaseIntake, fitted: fit.Fitted, dropped: tuple[passes.DroppedPage, ...],
            failed: dict[str, str], rejections: list[Rejection]) -> BuildRecord:
    """What manifest.json says of this build."""
    the_plan = fitted.plan
    accepted = [inp for inp in scanned.inputs if inp.path not in failed]
    checklist = None
    if build.checklist is not None:
        files_by_kind: dict[str, list[str]] = {}
        for inp in accepted:
            files_by_kind.setdefault(inp.kind, []).append(inp.path)
        checklist = checklist_record(match_checklist(build.checklist, files_by_kind))
    return BuildRecord(
        packager_version=__version__,
        profile=build.system.name,
        built_on=dt.date.today(),
        limit_bytes=build.limit_bytes,
        upload_bytes=fitted.upload_bytes,
        fits=fitted.fits,
        case=CaseRecord.of(scanned.case),
        inputs=(
            *(InputRecord(i.path, "accepted", "", i.sha256, i.bytes_, i.format, i.page_count, i.document, i.kind,
                          i.kind_from, i.kind_evidence) for i in accepted),
            *(InputRecord(r.path, "rejected", r.reason) for r in rejections),
        ),
        ignored=tuple(scanned.ignored),
        outputs=fitted.outputs,
        mailed=tuple(MailedRecord(d.document.key, d.document.title, f"{outputs.MAIL}/{d.file_name}", d.reason)
                     for d in the_plan.mailed),
        dropped_pages=tuple(DroppedPageRecord(d.source, d.source_page, d.reason) for d in dropped),
        plan=PlanRecord(the_plan.level, the_plan.budget_bytes, the_plan.reserved_bytes, build.system.mode),
        checklist=checklist,
        warnings=(
            *scanned.warnings,
            *readiness.still_to_do(build.case_dir, scanned.case, accepted, photo_needed=build.system.mode == "files",
                                   mailed=bool(the_plan.mailed)),
        ),
    )


def _form_date(case: CaseInfo) -> dt.date:
    """The date printed on forms: case.toml's `date`, else today."""
    return case.date or dt.date.today()


def check(case_dir: Path, options: BuildOptions = DEFAULT_OPTIONS, *, today: dt.date | None = None
          ) -> readiness.CheckReport:
    """Check a case before building; writes nothing. Raises NotEligibleOnline (exit 7)."""
    case_dir = Path(case_dir)
    if not case_dir.is_dir():
        raise UsageError(f"{case_dir}: no such case folder (CASE_DIR must be an existing folder)")
    system = load_system_profile(options.profile)
    scanned = recognise.recognise_case(intake.scan_case(case_dir, system), system, options.jobs or os.cpu_count() or 1)
    check_eligibility(scanned.case)
    return readiness.assess(
        case_dir, scanned.case, scanned.inputs, scanned.rejections, load_checklist(scanned.case), system,
        options.limit_bytes or system.limit_bytes, today or dt.date.today(),
    )


def stamp(out_dir: Path, receipt: str, filing_date: dt.date | None = None) -> StampResult:
    """Stamp the mailed set in OUT with the application receipt number (see packager.outbox.stamp)."""
    from packager import outbox

    return outbox.stamp(out_dir, receipt, filing_date)

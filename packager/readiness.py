"""Readiness checks for `packager check`: the checklist, the photo, certificate dates, a projected size.

Everything here reads and measures; nothing is written. The size is a projection from a
quick low-resolution look at each page, labelled as such; `build` measures the truth.
`assess` returns the findings as a record (CheckReport); the faces turn it into text
(packager.summary.render_check_report).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from packager.checklist import Checklist, ChecklistReport, match_checklist
from packager.classify import classify_page
from packager.errors import ExitCode
from packager.model import CaseInfo, InputFile, Rejection, SourcePage
from packager.pages import describe_pages, load_page
from packager.profiles import SystemProfile

PHOTO_RATIO = 3 / 4  # 3 cm × 4 cm portrait (ISA photo page)
PHOTO_RATIO_TOLERANCE = 0.04
PHOTO_MIN_PX = (450, 600)  # below this a 3×4 cm print is under ~380 dpi
PHOTO_MAX_AGE_DAYS = 183  # taken within 6 months
CHECK_DPI = 60  # enough to tell blank, bilevel, grey and colour apart, quickly

# Bytes per square inch of page at the ladder's best rung, measured on the generated
# bundles (300 dpi): G4 text ≈ 0.5 KB/in², grey JPEG q80 ≈ 3 KB/in², colour ≈ 4.5 KB/in².
BYTES_PER_SQ_IN = {"blank": 0, "bilevel": 500, "grey": 3000, "colour": 4500}


@dataclass(frozen=True)
class Finding:
    ok: bool
    text: str
    checked: bool = True  # False: nothing to check against (e.g. no issue date given): not an "ok"


def mark(f: Finding) -> str:
    """How check prints a finding: 'ok', 'NO', or '??' for what could not be checked."""
    return "?? " if not f.checked else "ok " if f.ok else "NO "


@dataclass(frozen=True)
class CheckReport:
    """What `packager check` found in a case, before any build."""

    case_dir: Path
    case: CaseInfo
    checklist: ChecklistReport | None  # None when case.toml names no application
    unknown_kind: tuple[str, ...]  # files whose kind packager could not tell
    rejections: tuple[Rejection, ...]
    findings: tuple[Finding, ...]  # photo and issue dates
    projected_upload_bytes: int  # what build will likely write to OUT/upload (see project_upload)
    limit_bytes: int
    projection: str = ""  # how the projection was made, for people
    kinds_read: tuple[tuple[str, str, str], ...] = ()  # (path, kind, evidence) of kinds read from pages

    @property
    def ready(self) -> bool:
        """Every required document present, nothing refused, photo and dates fine."""
        missing = self.checklist is not None and bool(self.checklist.missing_required)
        return not missing and not self.rejections and all(f.ok for f in self.findings)

    @property
    def exit_code(self) -> ExitCode:
        return ExitCode.OK if self.ready else ExitCode.CHECKLIST_INCOMPLETE

    @property
    def fits(self) -> bool:
        return self.projected_upload_bytes <= self.limit_bytes


def assess(
    case_dir: Path,
    case: CaseInfo,
    inputs: Sequence[InputFile],
    rejections: Sequence[Rejection],
    checklist: Checklist | None,
    system: SystemProfile,
    limit_bytes: int,
    today: dt.date,
) -> CheckReport:
    """Every check of a scanned case (eligibility was checked before: it raises)."""
    report = None
    limits: dict[str, int] = {}
    if checklist is not None:
        files_by_kind: dict[str, list[str]] = {}
        for inp in inputs:
            files_by_kind.setdefault(inp.kind, []).append(inp.path)
        report = match_checklist(checklist, files_by_kind)
        limits = {e.kind: e.issued_within_months for e in checklist.entries if e.issued_within_months}
    findings = check_photo(photo_page(inputs, system), case, today) + check_issue_dates(case, limits, today)
    projection = project_upload(inputs, system, limit_bytes)
    return CheckReport(
        case_dir=case_dir,
        case=case,
        checklist=report,
        unknown_kind=tuple(i.path for i in inputs if i.kind == "other"),
        rejections=tuple(rejections),
        findings=tuple(findings),
        projected_upload_bytes=projection.bytes_,
        limit_bytes=limit_bytes,
        projection=projection.explanation,
        kinds_read=tuple((i.path, i.kind, i.kind_evidence) for i in inputs if i.kind_from == "content"),
    )


def check_photo(photo: SourcePage | None, case: CaseInfo, today: dt.date) -> list[Finding]:
    if photo is None:
        return [Finding(False, "no ID photo in the case (a file named photo.jpg, or mapped to 'photo' in case.toml)")]
    out: list[Finding] = []
    w, h = photo.width_px, photo.height_px
    ratio = w / h
    portrait = h > w
    out.append(Finding(portrait, f"photo is {'portrait' if portrait else 'LANDSCAPE'} ({w}×{h} px)"))
    ok_ratio = abs(ratio - PHOTO_RATIO) <= PHOTO_RATIO_TOLERANCE
    out.append(
        Finding(
            ok_ratio,
            f"photo aspect {ratio:.2f} ({'3:4' if ok_ratio else 'not 3:4: it will be cropped to 3:4, centred'})",
        )
    )
    enough = min(w, h) >= PHOTO_MIN_PX[0] and max(w, h) >= PHOTO_MIN_PX[1]
    out.append(Finding(enough, f"photo has {'enough' if enough else 'TOO FEW'} pixels (need ≥ 450×600)"))
    if case.photo_taken is not None:
        age = (today - case.photo_taken).days
        fresh = 0 <= age <= PHOTO_MAX_AGE_DAYS
        out.append(
            Finding(
                fresh,
                f"photo taken {case.photo_taken.isoformat()}, {age} days ago "
                f"({'within' if fresh else 'OLDER THAN'} 6 months)",
            )
        )
    return out


def _months_before(day: dt.date, months: int) -> dt.date:
    month = day.month - months
    year = day.year + (month - 1) // 12
    month = (month - 1) % 12 + 1
    for d in (day.day, 30, 29, 28):
        try:
            return dt.date(year, month, d)
        except ValueError:
            continue
    return dt.date(year, month, 28)


def check_issue_dates(case: CaseInfo, limits: dict[str, int], today: dt.date) -> list[Finding]:
    """Certificates the checklist wants recent, against case.toml's [issued] dates."""
    out = []
    for kind, issued in case.issued:
        months = limits.get(kind)
        if months is None:
            continue
        oldest = _months_before(today, months)
        ok = issued >= oldest
        out.append(
            Finding(ok, f"{kind} issued {issued.isoformat()}: {'within' if ok else 'OLDER THAN'} {months} months")
        )
    for kind, months in limits.items():
        if kind not in {k for k, _ in case.issued}:
            out.append(
                Finding(
                    True,
                    f"{kind}: NOT CHECKED — no issue date in case.toml [issued]; it must be issued within {months} "
                    f"months (add e.g. [issued] {kind} = {today.isoformat()} to have it checked)",
                    checked=False,
                )
            )
    return out


# When the originals are over the limit, the build lowers quality (never below 200 dpi) until the
# upload fits, and stops just under the limit: measured 0.966 (typical) and 0.972 (heavy) of it.
FILLED_SHARE = 0.97
PHOTO_BYTES = 100_000  # the ID photo as the build writes it: 600×800 px JPEG q90
# A page with no stream to keep (TIFF, HEIC, WebP …), written losslessly (Flate) when the case
# fits as it is: bytes per square inch at 300 dpi, by class (two-valued pages go G4 instead).
LOSSLESS_PER_SQ_IN = {"blank": 0, "bilevel": 500, "grey": 30_000, "colour": 60_000}


@dataclass(frozen=True)
class Projection:
    """What `build` will likely write to OUT/upload, and how that was worked out."""

    bytes_: int
    originals_bytes: int  # the upload if every page kept its original (or best) form
    fits_as_is: bool  # originals_bytes ≤ limit: the build keeps them
    explanation: str  # one line for people


def project_upload(inputs: Sequence[InputFile], system: SystemProfile, limit_bytes: int) -> Projection:
    """Project the build's upload: pages looked at quickly (60 dpi) to find blank backs (dropped)
    and each page's class; a page that can keep its original stream counts its share of the
    file's bytes, others the best rung's measured bytes per square inch. If that sum is over
    the limit, the build lowers quality until the upload fits: about the limit."""
    total = 0
    for inp in inputs:
        if inp.kind == "photo":
            total += PHOTO_BYTES
            continue
        try:
            described = describe_pages(inp, system)
        except Exception:  # build rejects it with its reason; check just skips it
            continue
        keeps_original = inp.format in ("jpeg", "pdf") or (inp.format == "png" and inp.page_count == 1)
        for page in described:
            try:
                loaded = load_page(page, CHECK_DPI)
            except Exception:
                continue
            page_class = classify_page(loaded.image, loaded.dpi)
            if page_class.name == "blank" and system.drop_blank_pages:
                continue
            area = page.width_in * page.height_in
            if keeps_original:
                total += inp.bytes_ // max(inp.page_count, 1)
            else:
                total += int(area * LOSSLESS_PER_SQ_IN[page_class.name])
    if total <= limit_bytes:
        return Projection(total, total, True, "the pages kept as they are (originals; blank backs dropped)")
    filled = int(limit_bytes * FILLED_SHARE)
    return Projection(
        filled,
        total,
        False,
        f"the originals come to ~{total / 1e6:.1f} MB, over the limit: build lowers quality (never below "
        f"200 dpi) until the upload fits, so it will be about {filled / 1e6:.1f} MB; documents that cannot fit "
        "legibly are mailed instead",
    )


def project_upload_bytes(inputs: Sequence[InputFile], system: SystemProfile) -> int:
    """The projected upload (see project_upload) against the profile's limit."""
    return project_upload(inputs, system, system.limit_bytes).bytes_


def still_to_do(case_dir: Path, case: CaseInfo, accepted: Sequence[InputFile], *, photo_needed: bool,
                mailed: bool) -> list[str]:
    """What a person must still do before filing, as the build's warnings (and manifest) say."""
    todo = []
    if not (case_dir / "case.toml").is_file():
        todo.append(
            "to do: write case.toml (application, status, applicant): without it packager cannot check "
            "eligibility or the checklist, and the forms carry no applicant (see README, 'The case folder')"
        )
    if photo_needed and not any(i.kind == "photo" for i in accepted):
        todo.append(
            "to do: add the ID photo (4 cm × 3 cm portrait, taken within 6 months): a file named photo.jpg, "
            "or one mapped to 'photo' in case.toml [documents]; the upload has none"
        )
    if mailed and not case.bureau.strip():
        todo.append(
            "to do: the declaration and cover sheet are addressed to a placeholder bureau: set bureau = \"…\" "
            "in case.toml (the regional immigration bureau) and build again, or fill the name in by hand"
        )
    return todo


def photo_page(inputs: Sequence[InputFile], system: SystemProfile) -> SourcePage | None:
    for inp in inputs:
        if inp.kind == "photo":
            try:
                return describe_pages(inp, system)[0]
            except Exception:  # a photo that cannot be read is reported as missing; build names it
                continue
    return None


__all__ = [
    "CheckReport", "Finding", "Projection", "assess", "check_issue_dates", "check_photo", "mark", "photo_page",
    "project_upload", "project_upload_bytes", "still_to_do",
]

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


@dataclass(frozen=True)
class CheckReport:
    """What `packager check` found in a case, before any build."""

    case_dir: Path
    case: CaseInfo
    checklist: ChecklistReport | None  # None when case.toml names no application
    unknown_kind: tuple[str, ...]  # files whose kind packager could not tell
    rejections: tuple[Rejection, ...]
    findings: tuple[Finding, ...]  # photo and issue dates
    projected_upload_bytes: int  # at the best rung, from a quick look
    limit_bytes: int

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
    return CheckReport(
        case_dir=case_dir,
        case=case,
        checklist=report,
        unknown_kind=tuple(i.path for i in inputs if i.kind == "other"),
        rejections=tuple(rejections),
        findings=tuple(findings),
        projected_upload_bytes=project_upload_bytes(inputs, system),
        limit_bytes=limit_bytes,
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
            out.append(Finding(True, f"{kind}: issue date not given in case.toml [issued] (must be ≤ {months} months)"))
    return out


def project_upload_bytes(inputs: Sequence[InputFile], system: SystemProfile) -> int:
    """A quick projection of the upload's size at the best rung (pages looked at at 60 dpi)."""
    total = 0
    for inp in inputs:
        try:
            described = describe_pages(inp, system)
        except Exception:  # build rejects it with its reason; check just skips it
            continue
        for page in described:
            try:
                loaded = load_page(page, CHECK_DPI)
            except Exception:  # build will reject it with its reason; check just skips it
                continue
            page_class = classify_page(loaded.image, loaded.dpi)
            area = page.width_in * page.height_in
            estimate = int(area * BYTES_PER_SQ_IN[page_class.name])
            if inp.format in ("jpeg", "pdf"):
                estimate = min(estimate, inp.bytes_ // max(inp.page_count, 1))
            total += estimate
    return total


def photo_page(inputs: Sequence[InputFile], system: SystemProfile) -> SourcePage | None:
    for inp in inputs:
        if inp.kind == "photo":
            try:
                return describe_pages(inp, system)[0]
            except Exception:  # a photo that cannot be read is reported as missing; build names it
                continue
    return None


__all__ = [
    "CheckReport", "Finding", "assess", "check_issue_dates", "check_photo", "photo_page", "project_upload_bytes",
]

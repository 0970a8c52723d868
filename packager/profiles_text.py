"""Text for `packager profiles`, `packager profiles show NAME|PATH`, and the checklist of `check`.

Rendering only: every value comes from the validated profiles (packager.profiles and
packager.checklist), so `profiles show PATH` doubles as the validator an office runs on its
own edits — a malformed file raises ProfileError naming the file and the key.
"""

from __future__ import annotations

import difflib
import unicodedata
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from packager.checklist import (
    ApplicationIndex,
    Checklist,
    ChecklistEntry,
    ChecklistReport,
    EntrySpec,
    Part,
    StatusProfile,
    applications_dir,
    checklist_for,
    load_application_profiles,
    load_index_file,
    load_part_file,
    load_statuses_file,
    profile_type,
)
from packager.eligibility import all_applications
from packager.errors import ProfileError
from packager.profiles import SystemProfile, list_system_profiles, load_system_profile, profiles_dir
from packager.result import ChecklistLineRecord, ChecklistRecord

# ---------------------------------------------------------------------------- text tables


def display_width(text: str) -> int:
    """Terminal columns: full-width (Japanese) characters take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)


def _pad(text: str, width: int) -> str:
    return text + " " * (width - display_width(text))


def format_table(header: Sequence[str], rows: Sequence[Sequence[str]], indent: str = "  ") -> str:
    """Left-aligned columns, two spaces apart; the last column is not padded."""
    widths = [max(display_width(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = []
    for row in [header, *rows]:
        cells = [_pad(cell, widths[i]) if i < len(row) - 1 else cell for i, cell in enumerate(row)]
        lines.append((indent + "  ".join(cells)).rstrip())
    return "\n".join(lines)


def _date(value: object) -> str:
    return str(value) if value else "not given"


def _sources(source: str, checked: object, unconfirmed: Sequence[str]) -> list[str]:
    lines = [f"  source:    {source}", f"  checked:   {_date(checked)}"]
    lines += [f"  UNCONFIRMED: {u}" for u in unconfirmed]
    return lines


# ---------------------------------------------------------------------------- `packager profiles`


def render_profiles_table() -> str:
    """Every system and application profile, one line each."""
    systems = list_system_profiles()
    out = ["System profiles (the online system's limits; --profile NAME):"]
    out.append(
        format_table(
            ("NAME", "MODE", "LIMIT BYTES", "CHECKED", "TITLE"),
            [(s.name, s.mode, f"{s.limit_bytes:,}", _date(s.checked), s.title) for s in systems],
        )
    )
    profiles = load_application_profiles()
    index = profiles.index
    out += ["", "Application profiles (one per status of residence; case.toml `status`):"]
    rows = []
    for s in profiles.statuses.values():
        apps = "all" if s.applications == index.online_applications else " ".join(s.applications)
        rows.append((s.key, "detailed" if s.detailed else "base set", apps, _date(s.checked), s.title_ja))
    out.append(format_table(("STATUS", "CHECKLIST", "APPLICATIONS", "CHECKED", "在留資格"), rows))
    out += ["", "Applications (case.toml `application`):"]
    rows = []
    for a in index.applications.values():
        online = "yes" if a.online else ("only with " + ", ".join(a.add_on_to) if a.add_on_to else "no")
        rows.append((a.key, online, a.title_ja, a.title_en))
    out.append(format_table(("APPLICATION", "ONLINE", "申請", "TITLE"), rows))
    out += ["", "Refused statuses (no application by or into them online):"]
    rows = [(r.key, r.title_ja, r.title_en) for r in index.refused_statuses.values()]
    out.append(format_table(("STATUS", "在留資格", "TITLE"), rows))
    out += ["", f"Shared parts: {', '.join(profiles.parts)}", f"Profiles folder: {profiles_dir()}"]
    out.append("Details and sources: packager profiles show NAME (a profile name, a status key, or a .toml path)")
    return "\n".join(out) + "\n"


def render_profile(name_or_path: str) -> str:
    """One profile in full, with its sources. NAME: system profile, status, part, 'index', or a path."""
    path = Path(name_or_path)
    if name_or_path.endswith(".toml") or "/" in name_or_path or "\\" in name_or_path:
        return _render_file(path)
    if (profiles_dir() / "systems" / f"{name_or_path}.toml").is_file():
        return render_system_profile(load_system_profile(name_or_path))
    profiles = load_application_profiles()
    if name_or_path == "index":
        return render_index(profiles.index)
    if name_or_path in profiles.parts:
        return render_part(profiles.parts[name_or_path])
    key = name_or_path.strip().lower().replace("_", "-")
    for status in profiles.statuses.values():
        if key == status.key or key in status.aliases:
            return render_status(status)
    known = [p.name for p in list_system_profiles()] + ["index", *profiles.parts, *profiles.statuses]
    match = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    hint = f" (did you mean {match[0]!r}?)" if match else ""
    raise ProfileError("profiles", name_or_path, f"no such profile{hint}; `packager profiles` lists them")


def _render_file(path: Path) -> str:
    kind = profile_type(path)
    if kind == "system":
        return render_system_profile(load_system_profile(str(path)))
    if kind == "index":
        return render_index(load_index_file(path))
    if kind == "part":
        return render_part(load_part_file(path))
    statuses = load_statuses_file(path)
    return "\n".join(render_status(s) for s in statuses)


def render_system_profile(p: SystemProfile) -> str:
    out = [f"System profile {p.name}: {p.title}", f"  file:      {p.path}"]
    out += _sources(p.source, p.checked, p.unconfirmed)
    out += [
        f"  upload:    {p.mode}, at most {p.limit_bytes:,} bytes in total; {p.min_dpi}–{p.max_dpi} dpi",
        f"  reserves:  declaration {p.declaration_reserve_bytes:,} B, per file {p.per_file_overhead_bytes:,} B, "
        f"per page {p.per_page_overhead_bytes:,} B",
        f"  photo:     {p.photo_width_px}×{p.photo_height_px} px, JPEG quality {p.photo_jpeg_quality}",
        f"  intake:    at most {p.max_pixels:,} pixels a page, {p.max_pages_per_file:,} pages a file; "
        f"dpi tags trusted within {p.plausible_dpi[0]}–{p.plausible_dpi[1]}; "
        f"blank pages {'dropped' if p.drop_blank_pages else 'kept'}",
        "  quality ladders (best first):",
    ]
    for name, rungs in p.ladders.items():
        out.append(f"    {name:8} {', '.join(r.label for r in rungs)}")
    return "\n".join(out) + "\n"


def render_index(index: ApplicationIndex) -> str:
    out = ["Application index: which applications and statuses the online system takes", f"  file:      {index.path}"]
    out += _sources(index.source, index.checked, index.unconfirmed)
    out += [f"  otherwise: {index.counter}", "", "Applications:"]
    rows = []
    for a in index.applications.values():
        state = "online" if a.online else a.refused
        rows.append((a.key, a.title_ja, a.title_en, state))
    out.append(format_table(("APPLICATION", "申請", "TITLE", "ONLINE?"), rows))
    out += ["", "Refused statuses:"]
    out.append(
        format_table(
            ("STATUS", "在留資格", "REASON"), [(r.key, r.title_ja, r.reason) for r in index.refused_statuses.values()]
        )
    )
    out += ["", f"Designated activities ({index.designated_prefix}-…) without a profile: {index.designated_refused}"]
    return "\n".join(out) + "\n"


def _spec_need(spec: EntrySpec) -> str:
    need = "required" if spec.required else "conditional"
    return f"{need}: {spec.condition}" if spec.condition else need


def render_part(part: Part) -> str:
    out = [f"Shared part {part.name}: {part.title}", f"  file:      {part.path}"]
    out += _sources(part.source, part.checked, part.unconfirmed)
    out += [f"  note:      {n}" for n in part.notes]
    rows = [
        (s.kind, s.name_ja, " ".join(s.applications), _spec_need(s) + _entry_flags(s))
        for s in part.entries
    ]
    out += ["", format_table(("KIND", "書類", "APPLICATIONS", "WHEN"), rows)]
    return "\n".join(out) + "\n"


def render_status(status: StatusProfile) -> str:
    out = [f"Status {status.key}: {status.title_ja} ({status.title_en})", f"  file:      {status.path}"]
    out += _sources(status.source, status.checked, status.unconfirmed)
    out += [
        f"  group:     {status.group}; checklist {'detailed' if status.detailed else 'base set only'}; "
        f"includes {', '.join(status.includes) or 'nothing'}",
    ]
    if status.aliases:
        out.append(f"  aliases:   {', '.join(status.aliases)}")
    shipped = load_application_profiles().statuses.get(status.key)
    for application in status.applications:
        if shipped is not None and shipped.path == status.path:
            checklist = checklist_for(application, status.key)
        else:  # an office's own file: resolve it on its own, against the shipped parts
            checklist = _checklist_of_file(status, application)
        out += ["", render_checklist(checklist)]
    return "\n".join(out) + "\n"


def _checklist_of_file(status: StatusProfile, application: str) -> Checklist:
    """Resolve a status profile that is not (yet) in the profiles folder, against the shipped parts."""
    shipped = load_application_profiles()
    merged = replace(shipped, statuses={**shipped.statuses, status.key: status})
    return checklist_for(application, status.key, profiles=merged)


# ---------------------------------------------------------------------------- checklists


def _flags(months: int | None, colour: bool, unconfirmed: bool) -> str:
    flags = []
    if months:
        flags.append(f"issued ≤ {months} months")
    if colour:
        flags.append("colour")
    if unconfirmed:
        flags.append("UNCONFIRMED")
    return f" [{'; '.join(flags)}]" if flags else ""


def _entry_flags(e: ChecklistEntry | EntrySpec) -> str:
    return _flags(e.issued_within_months, e.colour, e.unconfirmed)


def _need(entry: ChecklistEntry) -> str:
    if entry.required:
        return f"required ({entry.condition})" if entry.condition else "required"
    return f"conditional: {entry.condition}" if entry.condition else "optional"


def _header_lines(checklist: Checklist) -> list[str]:
    out = [f"Checklist: {checklist.title_ja}", f"           {checklist.title_en}"]
    facts = []
    if checklist.employer_category is not None:
        facts.append(f"employer category {checklist.employer_category}")
    facts.append(f"checked {_date(checklist.checked)}")
    out.append(f"  {'; '.join(facts)}")
    out.append(f"  source: {checklist.source}")
    out += [f"  UNCONFIRMED: {u}" for u in checklist.unconfirmed]
    out += [f"  note: {n}" for n in checklist.notes]
    return out


def render_checklist(checklist: Checklist) -> str:
    """A checklist on its own (profiles show)."""
    rows = [
        (str(i), e.kind, f"{e.name_ja} / {e.name_en}", _need(e) + _entry_flags(e))
        for i, e in enumerate(checklist.entries, 1)
    ]
    return "\n".join([*_header_lines(checklist), format_table(("#", "KIND", "DOCUMENT", "NEED"), rows)])


def render_checklist_report(report: ChecklistReport) -> str:
    """The checklist section of `packager check` and of build's summary."""
    out = _header_lines(report.checklist)
    rows = []
    for i, r in enumerate(report.entries, 1):
        e = r.entry
        if r.present:
            state = "found"
        elif e.required:
            state = "MISSING"
        else:
            state = "not given"
        files = ", ".join(r.files) if r.files else _need(e)
        rows.append((str(i), state, e.kind, e.name_ja, files + _flags(e.issued_within_months, False, e.unconfirmed)))
    out.append(format_table(("#", "STATE", "KIND", "書類", "FILES / NEED"), rows))
    if report.unlisted:
        out.append("  Not on this checklist (uploaded as extra documents):")
        out += [f"    {kind}: {', '.join(files)}" for kind, files in report.unlisted]
    if report.unclassified:
        out.append("  Kind not recognised (name them in case.toml [documents]): " + ", ".join(report.unclassified))
    if report.missing_required:
        names = "; ".join(f"{e.name_ja} ({e.name_en})" for e in report.missing_required)
        out.append(f"  Missing, required: {names}")
    else:
        out.append("  Every required document is present.")
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------------------- README table


def render_markdown_table() -> str:
    """Every application type × status: "online" or the reason it is refused (footnotes)."""
    profiles = load_application_profiles()
    index = profiles.index
    verdicts = {(a, s): v for a, s, v in all_applications()}
    applications = list(index.applications)
    statuses = list(dict.fromkeys(s for _, s in verdicts))
    reasons: dict[str, int] = {}
    lines = ["| status | " + " | ".join(f"`{a}`" for a in applications) + " |"]
    lines.append("|" + "---|" * (len(applications) + 1))
    for s in statuses:
        cells = []
        for a in applications:
            verdict = verdicts[(a, s)]
            if verdict == "online":
                cells.append("online")
                continue
            n = reasons.setdefault(verdict, len(reasons) + 1)
            hosts = index.applications[a].add_on_to
            # An add-on is online exactly when one of its host applications is, for this status.
            joined = any(verdicts[(h, s)] == "online" for h in hosts)
            cells.append(f"only with {'/'.join(hosts)} ({n})" if joined else f"no ({n})")
        lines.append(f"| {_status_label(s)} | " + " | ".join(cells) + " |")
    lines.append("")
    lines += [f"- `{a.key}`: {a.title_en} ({a.title_ja})" for a in index.applications.values()]
    lines.append("")
    lines += [f"({n}) {reason}." for reason, n in reasons.items()]
    lines += [
        "",
        f"Alternative for every refusal: {index.counter}. Sources: {index.source}; checked {_date(index.checked)}.",
        "Generated from profiles/applications by scripts/profile_table.py; `packager profiles` lists the same data.",
    ]
    return "\n".join(lines) + "\n"


def _status_label(key: str) -> str:
    profiles = load_application_profiles()
    s = profiles.statuses.get(key) or profiles.index.refused_statuses.get(key)
    if s is None:
        return f"`{key}` (any designated activity not listed)"
    return f"`{key}` {s.title_ja} ({s.title_en})"


__all__ = [
    "applications_dir",
    "display_width",
    "format_table",
    "render_checklist",
    "render_checklist_report",
    "render_markdown_table",
    "render_profile",
    "render_profiles_table",
]


def checklist_record(report: ChecklistReport) -> ChecklistRecord:
    """The checklist section of manifest.json: for scripts, plus `text` as `check` prints it."""
    c = report.checklist
    return ChecklistRecord(
        application=c.application,
        status=c.status,
        title_ja=c.title_ja,
        title_en=c.title_en,
        employer_category=c.employer_category,
        with_=c.with_,
        source=c.source,
        checked=c.checked,
        detailed=c.detailed,
        ready=report.ready,
        entries=tuple(
            ChecklistLineRecord(
                kind=r.entry.kind,
                name_ja=r.entry.name_ja,
                name_en=r.entry.name_en,
                required=r.entry.required,
                condition=r.entry.condition,
                issued_within_months=r.entry.issued_within_months,
                unconfirmed=r.entry.unconfirmed,
                files=r.files,
            )
            for r in report.entries
        ),
        missing_required=tuple(e.kind for e in report.missing_required),
        unlisted=report.unlisted,
        unclassified=report.unclassified,
        notes=c.notes,
        unconfirmed=c.unconfirmed,
        text=render_checklist_report(report),
    )

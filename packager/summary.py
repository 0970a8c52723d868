"""Text for people: the summary of a build (from its manifest) and the list of an OUTBOX's cases."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from packager.result import BuildRecord

if TYPE_CHECKING:
    from packager.outbox import CaseEntry
    from packager.readiness import CheckReport


def _mb(n: int) -> str:
    return f"{n / 1e6:.2f} MB"


def render_build_summary(record: BuildRecord) -> str:
    """What `packager build` prints: one row per output file, the total, what is mailed or left out."""
    rows = [("file", "where", "pages", "bytes", "min dpi", "encodings")]
    for o in record.outputs:
        dpis = [p.dpi for p in o.pages if p.dpi]
        encodings = sorted({p.encoding.split("@")[0] for p in o.pages})
        rows.append(
            (
                o.path,
                o.destination,
                str(len(o.pages)) if o.pages else "-",
                f"{o.bytes_:,}",
                f"{min(dpis):.0f}" if dpis else "-",
                ",".join(encodings) or "-",
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(c.ljust(w) if i in (0, 1, 5) else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True)))
        for r in rows
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    limit, total = record.limit_bytes, record.upload_bytes
    verdict = "fits" if total <= limit else "DOES NOT FIT"
    lines.append("")
    lines.append(f"upload: {total:,} bytes ({_mb(total)}) of {limit:,} — {verdict}")
    for m in record.mailed:
        lines.append(f"mail:   {m.document} → {m.file} ({m.reason})")
    if record.dropped_pages:
        lines.append("blank pages dropped: " + ", ".join(f"{d.source} p{d.source_page + 1}"
                                                         for d in record.dropped_pages))
    for r in record.rejected:
        lines.append(f"rejected: {r.path}: {r.reason}")
    read = [i for i in record.inputs if i.kind_from == "content"]
    if read:
        lines.append("kinds read from the pages (if one is wrong, name the file in case.toml [documents]):")
        lines += [f"  {i.path}: {i.kind} ({i.kind_evidence or 'content'})" for i in read]
    unknown = [i.path for i in record.inputs if i.kind_from == "default"]
    if unknown:
        lines.append("kind unknown, packaged as 'other': " + ", ".join(unknown))
    for w in record.warnings:
        lines.append(w if w.startswith("to do:") else f"warning: {w}")
    if record.checklist and record.checklist.text:
        # The table and the verdict; sources and notes are for `packager check` and the manifest.
        lines.append("")
        lines += [ln for ln in record.checklist.text.splitlines()
                  if not ln.lstrip().startswith(("source:", "note:"))]
    lines += legend("\n".join(lines))
    return "\n".join(lines)


def render_cases(entries: Sequence[CaseEntry]) -> str:
    """`packager cases OUTBOX`: one line per case, newest first, with what to do next."""
    if not entries:
        return "no cases"
    rows = [("updated (UTC)", "state", "case", "applicant", "upload", "note")]
    for e in entries:
        upload = "-"
        if e.upload_bytes is not None and e.limit_bytes:
            upload = f"{e.upload_bytes / 1e6:.1f}/{e.limit_bytes / 1e6:.0f} MB"
        note = e.reason or e.receipt_error or (f"receipt {e.receipt}" if e.receipt else "") or (e.stage or "")
        rows.append((e.updated.strftime("%Y-%m-%d %H:%M"), str(e.state), e.key, e.applicant or "-", upload, note))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    return "\n".join("  ".join([*(c.ljust(w) for c, w in zip(r, widths, strict=False)), r[-1]]).rstrip()
                     for r in rows)


def render_check_report(report: CheckReport) -> str:
    """What `packager check` prints."""
    from packager.profiles_text import render_checklist_report
    from packager.readiness import mark

    case = report.case
    lines = [f"Case {report.case_dir}: {case.application or '(no application in case.toml)'} / {case.status or '-'}"]
    lines.append("Eligibility: can be filed online" if case.application else "Eligibility: not judged (no case.toml)")
    if report.checklist is not None:
        lines += ["", render_checklist_report(report.checklist)]
    if report.kinds_read:
        lines += ["", "Kinds read from the pages (if one is wrong, name the file in case.toml [documents]):"]
        lines += [f"  {path}: {kind} ({evidence})" for path, kind, evidence in report.kinds_read]
    if report.unknown_kind:
        lines += ["", "Files whose kind packager could not tell (name them, or map them in case.toml [documents]):"]
        lines += [f"  {p}" for p in report.unknown_kind]
    if report.rejections:
        lines += ["", "Rejected files:"] + [f"  {r.path}: {r.reason}" for r in report.rejections]
    lines += ["", "Photo and dates:"] + [f"  {mark(f)} {f.text}" for f in report.findings]
    projected, limit = report.projected_upload_bytes, report.limit_bytes
    lines += [
        "",
        f"Projected upload (what build will write to upload/): ~{projected / 1e6:.1f} MB of {limit / 1e6:.1f} MB — "
        + (report.projection or ("fits as it is" if report.fits else "build will compress to fit")),
    ]
    lines += legend("\n".join(lines))
    lines += ["", "READY to build" if report.ready else "NOT READY: see the lines marked MISSING, NO or rejected above"]
    return "\n".join(lines)


def legend(text: str) -> list[str]:
    """Words for the marks a reader cannot know: [UNCONFIRMED] and unchecked (??) lines."""
    out = []
    if "UNCONFIRMED" in text:
        out.append(
            "UNCONFIRMED: the ISA has not published this requirement or fact where packager's sources could "
            "confirm it (see docs/online-system.md); it is listed to be safe — check it against the ISA's "
            "current checklist or ask the bureau."
        )
    if "\n  ?? " in text:
        out.append("??: not checked — packager had nothing to check it against; the line says what to add.")
    return ["", *out] if out else []

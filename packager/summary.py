"""Text for people: the summary of a build (from its manifest) and the list of an OUTBOX's cases."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from packager.outbox import CaseEntry


def _mb(n: int) -> str:
    return f"{n / 1e6:.2f} MB"


def render_build_summary(manifest: dict[str, Any]) -> str:
    rows = [("file", "where", "pages", "bytes", "min dpi", "encodings")]
    for o in manifest["outputs"]:
        pages = o.get("pages", [])
        dpis = [p["dpi"] for p in pages if p.get("dpi")]
        encodings = sorted({p["encoding"].split("@")[0] for p in pages})
        rows.append(
            (
                o["path"],
                o["destination"],
                str(len(pages)) if pages else "-",
                f"{o['bytes']:,}",
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
    limit, total = manifest["limit_bytes"], manifest["upload_bytes"]
    verdict = "fits" if total <= limit else "DOES NOT FIT"
    lines.append("")
    lines.append(f"upload: {total:,} bytes ({_mb(total)}) of {limit:,} — {verdict}")
    for m in manifest.get("mailed", []):
        lines.append(f"mail:   {m['document']} → {m['file']} ({m['reason']})")
    dropped = manifest.get("dropped_pages", [])
    if dropped:
        lines.append("blank pages dropped: " + ", ".join(f"{d['source']} p{d['source_page'] + 1}" for d in dropped))
    rejected = [i for i in manifest["inputs"] if i["status"] == "rejected"]
    for r in rejected:
        lines.append(f"rejected: {r['path']}: {r['reason']}")
    read = [i for i in manifest["inputs"] if i.get("kind_from") == "content"]
    if read:
        lines.append("kinds read from the pages (if one is wrong, name the file in case.toml [documents]):")
        lines += [f"  {i['path']}: {i['kind']} ({i.get('kind_evidence') or 'content'})" for i in read]
    unknown = [i["path"] for i in manifest["inputs"] if i.get("kind_from") == "default"]
    if unknown:
        lines.append("kind unknown, packaged as 'other': " + ", ".join(unknown))
    for w in manifest.get("warnings", []):
        lines.append(f"warning: {w}")
    checklist = manifest.get("checklist")
    if checklist and checklist.get("text"):
        # The table and the verdict; sources and notes are for `packager check` and the manifest.
        lines.append("")
        lines += [ln for ln in checklist["text"].splitlines() if not ln.lstrip().startswith(("source:", "note:"))]
    return "\n".join(lines)


def render_cases(entries: Sequence[CaseEntry]) -> str:
    """`packager cases OUTBOX`: one line per case, newest first, with what to do next."""
    if not entries:
        return "no cases"
    rows = [("updated (UTC)", "state", "case", "applicant", "upload", "note")]
    for e in entries:
        upload = f"{e.upload_bytes / 1e6:.1f}/{e.limit_bytes / 1e6:.0f} MB" if e.upload_bytes is not None and \
            e.limit_bytes else "-"
        note = e.reason or e.receipt_error or (f"receipt {e.receipt}" if e.receipt else "") or (e.stage or "")
        rows.append((e.updated.strftime("%Y-%m-%d %H:%M"), str(e.state), e.key, e.applicant or "-", upload, note))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    return "\n".join("  ".join([*(c.ljust(w) for c, w in zip(r, widths, strict=False)), r[-1]]).rstrip()
                     for r in rows)

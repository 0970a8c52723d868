"""The human summary of a build, rendered from the manifest (what scripts read too)."""

from __future__ import annotations

from typing import Any


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
    checklist = manifest.get("checklist")
    if checklist and checklist.get("text"):
        # The table and the verdict; sources and notes are for `packager check` and the manifest.
        lines.append("")
        lines += [ln for ln in checklist["text"].splitlines() if not ln.lstrip().startswith(("source:", "note:"))]
    return "\n".join(lines)

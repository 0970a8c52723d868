#!/usr/bin/env python3
"""Regenerate the table of application types × statuses ("online" or why not) from the profiles.

The table sits between two markers, so the surrounding text stays hand-written:

    <!-- profile-table:start -->
    …generated…
    <!-- profile-table:end -->

Targets: README.md when it holds the markers, and docs/profile-table.md (created when missing).
`--check` writes nothing and exits 1 when a target is out of date (for CI: the table cannot drift).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from packager.errors import PackagerError  # noqa: E402
from packager.profiles_text import render_markdown_table  # noqa: E402

START = "<!-- profile-table:start -->"
END = "<!-- profile-table:end -->"
DOC_HEADER = "# Online filing by application type and status of residence\n\n"


class MarkerError(ValueError):
    pass


def has_markers(text: str) -> bool:
    """Either marker counts: a README with only one of them is an error, not silently skipped."""
    return START in text or END in text


def rewrite(text: str, table: str) -> str:
    """`text` with everything between the markers replaced by `table` (markers kept)."""
    if text.count(START) != 1 or text.count(END) != 1:
        raise MarkerError(f"need exactly one {START} and one {END}")
    if text.index(END) < text.index(START):
        raise MarkerError(f"{END} comes before {START}")
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{START}\n{table.rstrip()}\n{END}{tail}"


def targets(root: Path) -> list[tuple[Path, str]]:
    """(path, current text) of every file to keep in step; docs/profile-table.md is always one."""
    result: list[tuple[Path, str]] = []
    readme = root / "README.md"
    if readme.is_file() and has_markers(readme.read_text(encoding="utf-8")):
        result.append((readme, readme.read_text(encoding="utf-8")))
    doc = root / "docs" / "profile-table.md"
    doc_text = doc.read_text(encoding="utf-8") if doc.is_file() else f"{DOC_HEADER}{START}\n{END}\n"
    result.append((doc, doc_text))
    return result


def main(argv: list[str] | None = None, root: Path = ROOT) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 when a target is out of date")
    args = parser.parse_args(argv)
    try:
        table = render_markdown_table()
        stale = []
        for path, text in targets(root):
            new = rewrite(text, table)
            if new == text:
                continue
            stale.append(path)
            if not args.check:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(new, encoding="utf-8")
    except (PackagerError, MarkerError) as e:
        print(f"profile_table: {e}", file=sys.stderr)
        return 2
    for path in stale:
        rel = path.relative_to(root) if path.is_relative_to(root) else path
        print(f"{'out of date' if args.check else 'rewrote'}: {rel}")
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())

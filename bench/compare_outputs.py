#!/usr/bin/env python3
"""Compare two builds of the same case: every file of OUT/upload and OUT/mail byte for byte,
and manifest.json as data with `packager_version` left out (a refactor must change nothing else).

    python bench/compare_outputs.py BASE_OUT NEW_OUT [BASE_OUT NEW_OUT …]

Prints one line per pair ("identical", or what differs) and exits 1 when any pair differs.
Used for issue 9 (api.py down to sequencing): outputs byte-identical to the commit before.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

FOLDERS = ("upload", "mail")
IGNORED_MANIFEST_KEYS = ("packager_version",)


def _digests(out: Path) -> dict[str, str]:
    found = {}
    for folder in FOLDERS:
        for p in sorted((out / folder).rglob("*")) if (out / folder).is_dir() else []:
            if p.is_file():
                found[p.relative_to(out).as_posix()] = hashlib.sha256(p.read_bytes()).hexdigest()
    return found


def _manifest(out: Path) -> Any:
    data = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    for key in IGNORED_MANIFEST_KEYS:
        data.pop(key, None)
    return data


def _first_difference(a: Any, b: Any, where: str = "") -> str:
    if type(a) is not type(b):
        return f"{where or '.'}: {type(a).__name__} vs {type(b).__name__}"
    if isinstance(a, dict):
        if list(a) != list(b):
            return f"{where or '.'}: keys {list(a)} vs {list(b)}"
        for k in a:
            if a[k] != b[k]:
                return _first_difference(a[k], b[k], f"{where}.{k}")
    if isinstance(a, list):
        if len(a) != len(b):
            return f"{where}: {len(a)} items vs {len(b)}"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            if x != y:
                return _first_difference(x, y, f"{where}[{i}]")
    return f"{where}: {a!r:.80} vs {b!r:.80}"


def compare(base: Path, new: Path) -> list[str]:
    """What differs between two OUT folders (empty when identical)."""
    problems = []
    a, b = _digests(base), _digests(new)
    for rel in sorted(set(a) | set(b)):
        if rel not in b:
            problems.append(f"{rel}: missing in {new}")
        elif rel not in a:
            problems.append(f"{rel}: not in {base}")
        elif a[rel] != b[rel]:
            problems.append(f"{rel}: bytes differ")
    ma, mb = _manifest(base), _manifest(new)
    if ma != mb or list(ma) != list(mb):
        problems.append(f"manifest.json: {_first_difference(ma, mb)}")
    return problems


def main(argv: list[str]) -> int:
    if not argv or len(argv) % 2:
        print(__doc__, file=sys.stderr)
        return 2
    differ = False
    for base, new in zip(argv[::2], argv[1::2], strict=True):
        problems = compare(Path(base), Path(new))
        files = len(_digests(Path(base)))
        print(f"{base} vs {new}: " + ("identical" if not problems else "DIFFERENT")
              + f" ({files} files + manifest)")
        for p in problems:
            print(f"  {p}")
        differ = differ or bool(problems)
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

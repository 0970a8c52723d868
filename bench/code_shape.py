#!/usr/bin/env python3
"""The size limits of issue 9, measured: api.py under 350 lines with no function over 60; no
function in packager/ over 100 lines; no class over 250.

    python bench/code_shape.py [packager]      prints the sizes that matter; exit 1 if a limit is broken
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

API_FILE_LINES, API_FUNCTION_LINES, FUNCTION_LINES, CLASS_LINES = 350, 60, 100, 250


def broken_limits(root: Path) -> list[str]:
    problems = []
    for path in sorted(root.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        rel = path.relative_to(root.parent).as_posix()
        is_api = path.name == "api.py" and path.parent == root
        if is_api and len(text.splitlines()) >= API_FILE_LINES:
            problems.append(f"{rel}: {len(text.splitlines())} lines (limit {API_FILE_LINES})")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if isinstance(node, ast.ClassDef):
                    limit = CLASS_LINES
                else:
                    limit = API_FUNCTION_LINES if is_api else FUNCTION_LINES
                if length > limit:
                    problems.append(f"{rel}:{node.lineno} {node.name}: {length} lines (limit {limit})")
    return problems


def main(argv: list[str]) -> int:
    root = Path(argv[0] if argv else "packager")
    api = root / "api.py"
    longest = max(
        ((n.end_lineno or n.lineno) - n.lineno + 1, n.name)
        for n in ast.walk(ast.parse(api.read_text(encoding="utf-8")))
        if isinstance(n, ast.FunctionDef)
    )
    print(f"{api}: {len(api.read_text(encoding='utf-8').splitlines())} lines; longest function {longest[1]} "
          f"({longest[0]} lines)")
    problems = broken_limits(root)
    print("\n".join(problems) if problems else "every limit kept")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""Shared test fixtures. Generated inputs come from fixtures/ (seeded, deterministic)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

SHARED_CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"


def sha256_tree(root: Path) -> dict[str, str]:
    """Digest of every file under root, for 'inputs are never modified' assertions."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.is_symlink()
    }


@pytest.fixture
def corpus() -> Path:
    if not SHARED_CORPUS.is_dir():
        pytest.skip("../shared/corpus is not beside the project")
    return SHARED_CORPUS

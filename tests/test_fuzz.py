"""Fuzzing intake: mutated JPEG, PNG, TIFF (G4, LZW, two-page), HEIC, WebP, BMP and PDF files, each
alone and in a case with good files. Never exit 1, never a traceback, the good files always built,
inputs unchanged, every page of an accepted input accounted for.

Bounded for CI (a fixed set of seeds, well under 60 s); the long run is
`python -m fixtures.fuzz /tmp/fuzz --seconds 1200` (see fixtures/fuzz.py and README.md).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from fixtures import fuzz

ROUNDS = 24  # × 9 mutants, each built in the mixed case and alone: ~430 builds


@pytest.fixture(scope="module")
def seeds() -> dict[str, bytes]:
    return fuzz.seed_files()


def test_seed_corpus_builds_cleanly(seeds: dict[str, bytes], tmp_path: Path) -> None:
    """The unmutated seeds are all good: every rule holds and every file is built (the fuzz
    rounds are then testing the mutations, not a broken seed)."""
    case = tmp_path / "case"
    case.mkdir()
    for name, data in {**seeds, **fuzz.good_files()}.items():
        (case / name).write_bytes(data)
    outcome = fuzz.check_build(case, tmp_path / "out", good=(*seeds, *fuzz.GOOD_FILES), allowed=(0,))
    assert outcome.problems == (), outcome


def test_mutations_change_the_bytes_and_are_seeded(seeds: dict[str, bytes]) -> None:
    for name, data in seeds.items():
        a = [fuzz.mutate(name, data, np.random.default_rng(s)) for s in range(5)]
        b = [fuzz.mutate(name, data, np.random.default_rng(s)) for s in range(5)]
        assert a == b
        assert sum(m != data for m, _ in a) >= 4, name


@pytest.mark.parametrize("chunk", range(4))
def test_mutants_never_fail_the_case(seeds: dict[str, bytes], tmp_path: Path, chunk: int) -> None:
    findings = []
    for seed in range(chunk, ROUNDS, 4):
        findings += fuzz.run_round(tmp_path / f"r{seed}", seed, seeds)
    assert findings == []


def test_a_missing_tiff_dimension_is_a_rejection(tmp_path: Path) -> None:
    """The bug that started issue 11: Pillow's TypeError('Missing dimensions') used to exit 1."""
    from fixtures.broken import _tiff_without_width_on_page_2

    case = tmp_path / "case"
    case.mkdir()
    (case / "scan.tif").write_bytes(_tiff_without_width_on_page_2())
    for name, data in fuzz.good_files().items():
        (case / name).write_bytes(data)
    outcome = fuzz.check_build(case, tmp_path / "out", good=fuzz.GOOD_FILES, allowed=(3,))
    assert outcome.problems == ()
    assert "scan.tif: is a damaged TIFF image" in outcome.stderr

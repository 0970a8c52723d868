"""passes: the guess that decides whether the first pass keeps originals without encoding them."""

from __future__ import annotations

from pathlib import Path

from packager import passes
from packager.model import InputFile


def _input(fmt: str, bytes_: int, pages: int = 1) -> InputFile:
    return InputFile(f"x.{fmt}", Path(f"/x.{fmt}"), "0" * 64, bytes_, fmt, pages, "other", "other-x")


def test_kept_originals_count_their_bytes_others_a_guess_per_page() -> None:
    assert passes.originals_likely_fit([_input("jpeg", 8_000_000), _input("pdf", 10_000_000)], 25_000_000)
    assert not passes.originals_likely_fit([_input("pdf", 23_000_000)], 25_000_000)  # over 90 %
    assert not passes.originals_likely_fit([_input("tiff", 1_000, pages=20)], 25_000_000)  # 20 × 1.5 MB guessed
    assert passes.originals_likely_fit([_input("png", 2_000_000)], 25_000_000)

"""originals: which pages the first pass encodes and which it keeps as they are, from data only."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from packager import originals
from packager.encode import ORIGINAL
from packager.model import Candidate, Encoding, InputFile, PageAnalysis, PageClass, SourcePage

A4_IN = (8.27, 11.69)


def _page(fmt: str, stored: int, *, estimated: bool = False, name: str = "x") -> SourcePage:
    inp = InputFile(f"{name}.{fmt}", Path(f"/{name}.{fmt}"), "0" * 64, stored if fmt != "pdf" else stored + 900,
                    fmt, 1, "other", "other-x")
    return SourcePage(inp, 0, 2480, 3508, *A4_IN, native_dpi=300.0, dpi_estimated=estimated,
                      stream_bytes=stored if fmt == "pdf" else 0)


def _analysis(page: SourcePage, cls: str, *sizes: int) -> PageAnalysis:
    """A page with its original (if it has one: the first size) and its rungs' sizes."""
    candidates = []
    for i, size in enumerate(sizes):
        encoding = ORIGINAL if i == 0 else Encoding("jpeg-colour", dpi=300, quality=80)
        candidates.append(Candidate(encoding, size, 300.0, 2480, 3508, spool_index=i))
    return PageAnalysis(page, PageClass(cls, 0.1, 0.0, 0.0), tuple(candidates), "k")  # type: ignore[arg-type]


def test_largest_originals_are_encoded_until_the_rest_fits_as_it_is() -> None:
    pages = [_page("pdf", 3_000_000, name="a"), _page("jpeg", 1_000_000, name="b"),
             _page("pdf", 5_000_000, name="c"), _page("tiff", 0, name="d"), _page("png", 500_000, name="e")]
    # Stored: a 3.0, b 1.0, c 5.0, e 0.5 MB; d has no stream to keep: always encoded. An encoded
    # A4 page at 300 dpi counts as floor_guess = 8.27 × 11.69 in × 300² × 0.01 ≈ 87 KB.
    floor = originals.floor_guess(pages[0])
    assert 86_000 < floor < 88_000
    assert originals.initial_split(pages, room=10_000_000) == [False, False, False, True, False]
    assert originals.initial_split(pages, room=4_700_000) == [False, False, True, True, False]  # 4.5 MB + 2 floors
    assert originals.initial_split(pages, room=4_600_000) == [True, False, True, True, False]
    assert originals.initial_split(pages, room=1_800_000) == [True, False, True, True, False]  # 1.5 MB + 3 floors
    assert originals.initial_split(pages, room=1_700_000) == [True, True, True, True, False]
    assert originals.initial_split(pages, room=0) == [True, True, True, True, True]


def test_equal_originals_split_in_page_order() -> None:
    pages = [_page("jpeg", 1_000_000, name=f"p{i}") for i in range(4)]
    assert originals.initial_split(pages, room=2_200_000) == [True, True, False, False]


@given(st.lists(st.integers(min_value=0, max_value=5_000_000), min_size=1, max_size=30),
       st.integers(min_value=0, max_value=60_000_000))
def test_what_is_left_unencoded_always_fits_the_room(sizes: list[int], room: int) -> None:
    pages = [_page("jpeg", s, name=f"p{i}") for i, s in enumerate(sizes)]
    split = originals.initial_split(pages, room)
    kept = [s for s, enc in zip(sizes, split, strict=True) if not enc]
    floors = sum(originals.floor_guess(p) for p, enc in zip(pages, split, strict=True) if enc)
    assert sum(kept) + floors <= room or not kept
    # Only the largest are encoded: no kept page is larger than an encoded one.
    encoded = [s for s, enc in zip(sizes, split, strict=True) if enc]
    assert not kept or not encoded or max(kept) <= min(encoded)


def test_level_one_is_the_best_rung_or_the_original_alone() -> None:
    page = _page("jpeg", 1_000_000)
    assert originals.level_one_bytes(_analysis(page, "colour", 1_000_000)) == 1_000_000  # only looked at
    assert originals.level_one_bytes(_analysis(page, "colour", 1_000_000, 200_000)) == 200_000


def test_a_wave_takes_the_largest_originals_until_the_guessed_saving_covers_the_excess() -> None:
    sizes = [900_000, 2_000_000, 1_500_000]
    looked = [_analysis(_page("jpeg", s, name=f"p{i}"), "bilevel", s) for i, s in enumerate(sizes)]
    # Bilevel guess: 8.27 × 11.69 in at 300 dpi × 0.03 B/px ≈ 261 KB.
    assert originals.next_wave(looked, 1_000_000) == [1]  # saves ~1.74 MB
    assert originals.next_wave(looked, 2_000_000) == [1, 2]
    assert originals.next_wave(looked, 10**9) == [1, 2, 0]  # all, and no more
    assert originals.next_wave(looked, 1) == [1]  # at least one
    # A colour page's best rung (MRC) is guessed larger: a larger original may save less.
    colour = _analysis(_page("jpeg", 2_100_000, name="c"), "colour", 2_100_000)
    assert originals.next_wave([*looked, colour], 1) == [1]
    assert originals.next_wave([*looked, colour], 2_000_000) == [1, 3]


def test_guesses_never_exceed_the_original_and_photos_scale_with_the_file() -> None:
    small = _analysis(_page("jpeg", 50_000), "colour", 50_000)
    assert originals.encoded_guess(small) == 50_000
    photo = _analysis(_page("jpeg", 3_000_000, estimated=True), "colour", 3_000_000)
    assert originals.encoded_guess(photo) == int(3_000_000 * originals._GUESS_PHOTO_SHARE)


def test_beyond_level_one_when_every_page_at_its_floor_or_its_original_is_over_the_room() -> None:
    pages = [_page("jpeg", 1_000_000, name="a"), _page("pdf", 50_000, name="b"), _page("tiff", 0, name="c")]
    floor = originals.floor_guess(pages[0])
    # a at its floor guess, b at its stored 50 KB (below its floor: level 1 takes no more), c
    # (no stream to keep) at its floor guess.
    least = 2 * floor + 50_000
    assert originals.beyond_level_one(pages, least - 1)
    assert not originals.beyond_level_one(pages, least)
    assert not originals.beyond_level_one([], 0)

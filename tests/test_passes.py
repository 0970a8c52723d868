"""passes: the guess that decides whether the first pass keeps originals without encoding them."""

from __future__ import annotations

import math
import re
from dataclasses import replace
from pathlib import Path

import pytest

from packager import passes
from packager.model import InputFile


def _input(fmt: str, bytes_: int, pages: int = 1) -> InputFile:
    return InputFile(f"x.{fmt}", Path(f"/x.{fmt}"), "0" * 64, bytes_, fmt, pages, "other", "other-x")


def test_kept_originals_count_their_bytes_others_a_guess_per_page() -> None:
    assert passes.originals_likely_fit([_input("jpeg", 8_000_000), _input("pdf", 10_000_000)], 25_000_000)
    assert not passes.originals_likely_fit([_input("pdf", 23_000_000)], 25_000_000)  # over 90 %
    assert not passes.originals_likely_fit([_input("tiff", 1_000, pages=20)], 25_000_000)  # 20 × 1.5 MB guessed
    assert passes.originals_likely_fit([_input("png", 2_000_000)], 25_000_000)


def _without_id(spooled: Path) -> bytes:
    """A spooled one-page PDF without its trailer's /ID, which qpdf (under img2pdf) makes from
    the clock: the same rendition written in another second differs there only. Assembly takes
    the page, never the trailer, so outputs are byte-identical all the same."""
    return re.sub(rb"/ID \[<[0-9a-f]+><[0-9a-f]+>\]", b"/ID", spooled.read_bytes())


def _jpeg_case(folder: Path) -> list[int]:
    """Four text pages as JPEG files, noisier (so larger) page by page; their sizes."""
    from fixtures.pages import encode_jpeg, text_page

    folder.mkdir()
    sizes = []
    for i, quality in enumerate((70, 80, 90, 95)):
        image, _ = text_page(300, seed=20 + i, size_mm=(105, 148), pt=9)
        data = encode_jpeg(image, quality, 300)
        (folder / f"{i + 1:02d}_letter.jpg").write_bytes(data)
        sizes.append(len(data))
    return sizes


@pytest.mark.parametrize("room_for", ["two smallest", "three smallest"])
def test_first_pass_encodes_the_largest_originals_and_only_looks_at_the_rest(
    tmp_path: Path, room_for: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Room for the two smallest originals: the split before any page is read encodes the two
    largest. Room for just the three smallest, with encoded pages guessed at nothing: it encodes
    the largest only, and after measuring (its encoding does not fit beside three originals) a
    wave encodes the next."""
    waves: list[list[int]] = []
    next_wave = passes.originals.next_wave
    monkeypatch.setattr(passes.originals, "next_wave", lambda *a: waves.append(next_wave(*a)) or waves[-1])
    if room_for == "three smallest":
        monkeypatch.setattr(passes.originals, "FLOOR_BYTES_PER_PIXEL", 0.0)
    from packager.intake import scan_case
    from packager.originals import level_one_bytes
    from packager.profiles import load_kinds, load_system_profile

    system = load_system_profile()
    sizes = _jpeg_case(tmp_path / "case")
    inputs = scan_case(tmp_path / "case", system).inputs
    spool = tmp_path / "spool"
    spool.mkdir()
    # Two A6 pages at the first rung (sixteen grey levels) take ~70 KB: 100 KB holds them.
    room = sizes[0] + sizes[1] + 100_000 if room_for == "two smallest" else sizes[0] + sizes[1] + sizes[2] + 1_000
    overhead = (len(inputs) + 1) * system.per_file_overhead_bytes + 4 * system.per_page_overhead_bytes
    limit = math.ceil((room + overhead) / (1 - passes.originals.ROOM_MARGIN))
    work = passes.describe(inputs, system, load_kinds(), spool, limit_bytes=limit, keep_blank=False)
    assert work.room_bytes is not None and abs(work.room_bytes - room) <= 1
    first = passes.first_pass(work, system, jobs=1, progress=None)
    pages = [a for name in sorted(first.analyses) for a in first.analyses[name]]
    encoded = [any(c.spool_index > 0 for c in a.candidates) for a in pages]
    assert encoded == [False, False, True, True]
    assert all(a.tried == () for a, e in zip(pages, encoded, strict=True) if not e)
    assert sum(level_one_bytes(a) for a in pages) <= work.room_bytes
    assert waves == ([] if room_for == "two smallest" else [[2]])
    # The same case gives the same split and the same sizes.
    again = passes.first_pass(work, system, jobs=2, progress=None)
    again_pages = [a for name in sorted(again.analyses) for a in again.analyses[name]]
    assert [a.candidates for a in again_pages] == [a.candidates for a in pages]


@pytest.mark.parametrize("next_level_fits", [True, False])
def test_second_pass_encodes_the_next_rung_and_the_rest_only_if_that_does_not_fit(
    tmp_path: Path, next_level_fits: bool
) -> None:
    from fixtures.pages import encode_jpeg, text_page
    from packager import documents
    from packager.intake import scan_case
    from packager.profiles import load_kinds, load_system_profile

    system, kinds = load_system_profile(), load_kinds()
    (tmp_path / "case").mkdir()
    for i in range(2):  # colour pages with a seal: a ladder of eight rungs
        image, _ = text_page(300, seed=30 + i, size_mm=(105, 148), pt=9, colour_seal=True)
        (tmp_path / "case" / f"{i + 1:02d}_certificate.jpg").write_bytes(encode_jpeg(image, 90, 300))
    inputs = scan_case(tmp_path / "case", system).inputs
    spool = tmp_path / "spool"
    spool.mkdir()
    work = passes.describe(inputs, system, kinds, spool, limit_bytes=1, keep_blank=False)  # nothing fits
    # As for a case originals.beyond_level_one does not catch: the first pass's rungs only.
    work = replace(work, tasks=tuple(replace(t, extra_rungs=0) for t in work.tasks))
    first = passes.first_pass(work, system, jobs=1, progress=None)
    docs = documents.group_documents(inputs, first.analyses, kinds, documents.order_kinds(kinds, None))
    assert {a.tried for d in docs for a in d.pages} == {(1,)}  # MRC q65
    asked: list[int] = []

    def fits(more: object) -> bool:
        asked.append(1)
        return next_level_fits

    more = passes.second_pass(docs, work.tasks, system, 1, None, fits=fits)
    ladder_len = len(system.ladders["colour"])
    expected = (1, 2) if next_level_fits else tuple(range(1, ladder_len + 1))
    assert {a.tried for d in more for a in d.pages} == {expected} and asked == [1]
    assert all(any(c.spool_index == 2 for c in a.candidates) for d in more for a in d.pages)  # MRC q40


def test_pages_run_before_a_colour_kind_was_read_are_redone_with_it_the_others_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The early pass runs with the kinds known before recognition (a scanner-named file is
    'other'); once its kind is read as a colour kind (a passport), the first pass redoes its
    grey pages — they are colour pages now, exactly as if the kind had been known — and takes
    every other page from the early pass."""
    from dataclasses import replace

    from fixtures.pages import encode_jpeg, text_page
    from packager.intake import order_inputs, scan_case
    from packager.profiles import load_kinds, load_system_profile

    system, kinds = load_system_profile(), load_kinds()
    case = tmp_path / "case"
    case.mkdir()
    for name, seed in (("scan0001.jpg", 40), ("letter.jpg", 41)):
        image, _ = text_page(300, seed=seed, size_mm=(105, 148), pt=9)
        (case / name).write_bytes(encode_jpeg(image, 90, 300))
    found = scan_case(case, system).inputs
    read = order_inputs([replace(i, kind="passport", document="passport", kind_from="content")
                         if i.path == "scan0001.jpg" else i for i in found])
    limit = 1  # nothing fits as it is: every page is encoded, so its class decides its bytes
    spools = {}
    for name in ("early", "direct"):
        spools[name] = tmp_path / name
        spools[name].mkdir()
    early = passes.early_pass(
        passes.describe(found, system, kinds, spools["early"], limit_bytes=limit, keep_blank=False), system, 1, None
    )
    assert {r.page.input.path: r.page_class.name for r in early.results} == {"scan0001.jpg": "bilevel",
                                                                             "letter.jpg": "bilevel"}
    ran: list[str] = []
    analyse = passes.pool.analyse_pages
    monkeypatch.setattr(passes.pool, "analyse_pages",
                        lambda tasks, *a: (ran.extend(t.page.input.path for t in tasks), analyse(tasks, *a))[1])
    work = passes.describe(read, system, kinds, spools["early"], limit_bytes=limit, keep_blank=False)
    with_early = passes.first_pass(work, system, 1, None, early)
    assert ran == ["scan0001.jpg"]  # the letter's page is the early pass's
    monkeypatch.setattr(passes.pool, "analyse_pages", analyse)
    direct = passes.first_pass(
        passes.describe(read, system, kinds, spools["direct"], limit_bytes=limit, keep_blank=False), system, 1, None
    )
    assert with_early.analyses["scan0001.jpg"][0].page_class.name == "colour"
    for path in ("scan0001.jpg", "letter.jpg"):
        a, b = with_early.analyses[path][0], direct.analyses[path][0]
        assert (a.page, a.page_class, a.candidates, a.tried) == (b.page, b.page_class, b.candidates, b.tried)
        for c in (c for c in a.candidates if c.spooled):  # the spooled renditions the plan would take: the same bytes
            name = f"{a.spool_key}-{c.spool_index:02d}.pdf"
            assert _without_id(spools["early"] / name) == _without_id(spools["direct"] / name)


def _certificates_and_letters(folder: Path) -> None:
    """Two colour certificates (MRC rungs) and two text pages (grey levels, G4), A6 JPEG files."""
    from fixtures.pages import encode_jpeg, text_page

    folder.mkdir()
    for i in range(2):
        image, _ = text_page(300, seed=30 + i, size_mm=(105, 148), pt=9, colour_seal=True)
        (folder / f"{i + 1:02d}_certificate.jpg").write_bytes(encode_jpeg(image, 90, 300))
        image, _ = text_page(300, seed=20 + i, size_mm=(105, 148), pt=9)
        (folder / f"{i + 1:02d}_letter.jpg").write_bytes(encode_jpeg(image, 90, 300))


def test_a_case_beyond_level_one_gets_the_next_rung_from_the_first_pass(tmp_path: Path) -> None:
    """Far over the limit (every page at its floor guess is over the room), the first pass
    encodes every page's next rung too, from its one decode: exactly what a first pass without
    it and a second pass's next rung give together — candidates, rungs tried, spooled bytes."""
    from packager import documents
    from packager.intake import scan_case
    from packager.profiles import load_kinds, load_system_profile

    system, kinds = load_system_profile(), load_kinds()
    _certificates_and_letters(tmp_path / "case")
    inputs = scan_case(tmp_path / "case", system).inputs
    order = documents.order_kinds(kinds, None)
    spools = {name: tmp_path / name for name in ("once", "twice")}
    works = {}
    for name, spool in spools.items():
        spool.mkdir()
        works[name] = passes.describe(inputs, system, kinds, spool, limit_bytes=1, keep_blank=False)
    assert [t.extra_rungs for t in works["once"].tasks] == [1, 1, 1, 1]
    once = passes.first_pass(works["once"], system, jobs=2, progress=None)
    twice_work = replace(works["twice"], tasks=tuple(replace(t, extra_rungs=0) for t in works["twice"].tasks))
    first = passes.first_pass(twice_work, system, jobs=1, progress=None)
    twice = passes.second_pass(documents.group_documents(inputs, first.analyses, kinds, order), twice_work.tasks,
                               system, 1, None, fits=lambda docs: True)
    once_pages = [a for d in documents.group_documents(inputs, once.analyses, kinds, order) for a in d.pages]
    twice_pages = [a for d in twice for a in d.pages]
    assert {a.page_class.name: a.tried for a in once_pages} == {"colour": (1, 2), "bilevel": (1, 2, 3)}
    for a, b in zip(once_pages, twice_pages, strict=True):
        assert (a.page, a.page_class, a.candidates, a.tried) == (b.page, b.page_class, b.candidates, b.tried)
        for c in (c for c in a.candidates if c.spooled):
            name = f"{a.spool_key}-{c.spool_index:02d}.pdf"
            assert _without_id(spools["once"] / name) == _without_id(spools["twice"] / name)


@pytest.mark.parametrize("limit", [25_000_000, 400_000])
def test_a_case_that_may_fit_at_level_one_asks_for_no_more_rungs(tmp_path: Path, limit: int) -> None:
    """Originals likely to fit (25 MB), or over the limit as they are but with room for every
    page at its floor guess (0.4 MB against 4 × ~22 KB): the first pass's rungs only."""
    from packager.intake import scan_case
    from packager.profiles import load_kinds, load_system_profile

    system = load_system_profile()
    _jpeg_case(tmp_path / "case")
    inputs = scan_case(tmp_path / "case", system).inputs
    spool = tmp_path / "spool"
    spool.mkdir()
    work = passes.describe(inputs, system, load_kinds(), spool, limit_bytes=limit, keep_blank=False)
    assert (work.room_bytes is None) == (limit == 25_000_000)
    assert [t.extra_rungs for t in work.tasks] == [0, 0, 0, 0]
    first = passes.first_pass(work, system, jobs=1, progress=None)
    assert {a.tried for pages in first.analyses.values() for a in pages} <= {(), (1, 2)}

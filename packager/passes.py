"""Which pages are encoded at which rungs: the first pass over every page, and the second.

First pass: every page is decoded once and classified; the pages the plan will need are
encoded at the profile's first rungs (`first_pass_rungs`), the others only looked at and kept
as they are (originals.py) — all of them when the case will most likely fit as it is — and
every page at the next rung too when the case will not fit at level 1 even with every page
encoded (originals.beyond_level_one). Second pass, only when the best rung of every page does
not fit: the next rung of every page not tried yet, then, if that does not fit either, all the
remaining rungs. The work itself runs in the pool.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from packager import encode, originals, pages, pool
from packager.errors import first_line
from packager.model import Document, DocumentKind, InputFile, PageAnalysis, SourcePage
from packager.pool import ProgressFn
from packager.profiles import SystemProfile

ORIGINALS_ONLY: tuple[int, ...] = ()  # PageTask.rungs: look at the page, keep its original, encode nothing
FIRST_PASS_RUNGS = None  # PageTask.rungs: the profile's first_pass_rungs for the page's class

# Assumed size of a page that has no original stream to keep (PNG, TIFF, HEIC …) at the best
# rung, for the guess below: a 300 dpi A4 colour page at JPEG q80 is ~0.5–1.2 MB.
_NON_ORIGINAL_PAGE_GUESS_BYTES = 1_500_000


@dataclass(frozen=True)
class PageWork:
    """The case's pages, described: the tasks of the first pass, and what stays out of it."""

    tasks: tuple[encode.PageTask, ...]
    photo_page: SourcePage | None  # the ID photo of the files mode: its own output, not a task
    unreadable: dict[str, str]  # input path → why its pages cannot be listed
    # Bytes the pages may take at level 1 before the first pass stops encoding (originals.py);
    # None: every task as described (the case's originals likely fit: all are looked at only).
    room_bytes: int | None = None


@dataclass(frozen=True)
class EarlyPass:
    """The first pass's pool run over pages described before every input's kind was known
    (early_pass); first_pass takes from it every result its own task would give alike."""

    tasks: tuple[encode.PageTask, ...]
    results: tuple[PageAnalysis | encode.PageFailure, ...]  # per task


@dataclass(frozen=True)
class DroppedPage:
    source: str  # input path
    source_page: int  # 0-based
    reason: str


@dataclass(frozen=True)
class FirstPass:
    analyses: dict[str, list[PageAnalysis]]  # input path → its pages, in page order
    dropped: tuple[DroppedPage, ...]  # blank pages left out
    failed: dict[str, str]  # input path → why a page of it could not be read (the input is rejected)


def originals_likely_fit(inputs: Sequence[InputFile], limit: int) -> bool:
    """Whether the case will most likely fit with every JPEG/PNG file and PDF page kept as it is.

    Then the first pass keeps originals without encoding them (it still decodes each page to
    classify it and find blank backs); if the guess is wrong, the second pass encodes them.
    """
    total = 0
    for inp in inputs:
        if inp.format in ("jpeg", "pdf") or (inp.format == "png" and inp.page_count == 1):
            total += inp.bytes_
        else:
            total += inp.page_count * _NON_ORIGINAL_PAGE_GUESS_BYTES
    return total <= limit * 0.9


def describe(
    inputs: Sequence[InputFile],
    system: SystemProfile,
    kinds: Mapping[str, DocumentKind],
    spool: Path,
    *,
    limit_bytes: int,
    keep_blank: bool,
) -> PageWork:
    """Every page of every input as a first-pass task (the files mode's ID photo aside)."""
    photo_page: SourcePage | None = None
    tasks: list[encode.PageTask] = []
    unreadable: dict[str, str] = {}
    keep_originals = originals_likely_fit(inputs, limit_bytes)
    # Task ids by path, not by position: an early pass (before kinds are read from content,
    # which reorders the inputs) and the first pass name the same page alike.
    numbers = {path: n for n, path in enumerate(sorted(inp.path for inp in inputs))}
    for inp in inputs:
        try:
            described = pages.describe_pages(inp, system)
        except Exception as e:  # a parser error on one file must not stop the case
            unreadable[inp.path] = f"cannot be read page by page ({first_line(e)})"
            continue
        if not described:  # accepted with pages that no reader then gives: never lost silently
            unreadable[inp.path] = "has no page that can be read"
            continue
        if inp.kind == "photo" and system.mode == "files" and photo_page is None:
            photo_page = described[0]
            continue
        kind = kinds.get(inp.kind, kinds["other"])
        for p in described:
            tasks.append(encode.PageTask(
                page=p,
                task_id=f"{numbers[inp.path]:04d}-{p.page_index:05d}",
                ladders=system.ladders,
                max_dpi=system.max_dpi,
                colour_hint=kind.colour,
                spool_dir=spool,
                keep_blank=keep_blank,
                first_pass=system.first_pass_rungs,
                rungs=ORIGINALS_ONLY if keep_originals and encode.original_possible(p) else FIRST_PASS_RUNGS,
                lossless=keep_originals,
            ))
    # The PDF structure around the pages: a file per input at most, and one more (the declaration).
    overhead = (len(inputs) + 1) * system.per_file_overhead_bytes + len(tasks) * system.per_page_overhead_bytes
    room = None if keep_originals else originals.room_bytes(limit_bytes, overhead)
    if room is not None and originals.beyond_level_one([t.page for t in tasks], room):
        tasks = [replace(t, extra_rungs=1) for t in tasks]
    return PageWork(tuple(tasks), photo_page, unreadable, room)


def page_limits(system: SystemProfile) -> pool.PageLimits:
    """The profile's per-page time and memory limits for the workers."""
    return pool.PageLimits(time_s=system.page_time_limit_s, memory_bytes=system.page_memory_limit_mb * 1_000_000)


def _split(work: PageWork) -> list[encode.PageTask]:
    """The tasks, those the plan will likely not need encoded only looked at (originals.py)."""
    tasks = list(work.tasks)
    if work.room_bytes is not None:
        split = originals.initial_split([t.page for t in tasks], work.room_bytes)
        tasks = [t if encode_it else replace(t, rungs=ORIGINALS_ONLY)
                 for t, encode_it in zip(tasks, split, strict=True)]
    return tasks


def early_pass(work: PageWork, system: SystemProfile, jobs: int, progress: ProgressFn | None) -> EarlyPass:
    """The first pass's pages run with the kinds known so far, while the others are still being
    read from content (api.py): first_pass then redoes only the pages a kind read since changes."""
    tasks = _split(work)
    return EarlyPass(tuple(tasks), tuple(pool.analyse_pages(tasks, jobs, progress, page_limits(system))))


def first_pass(work: PageWork, system: SystemProfile, jobs: int, progress: ProgressFn | None,
               early: EarlyPass | None = None) -> FirstPass:
    """Classify every page and encode those the plan will need at level 1 (workers, see
    originals.py); failures and blank pages sorted out, in page order. A page the `early` pass
    ran alike is not run again."""
    limits = page_limits(system)
    tasks = _split(work)
    results: list[PageAnalysis | encode.PageFailure | None] = (
        _reused(tasks, early) if early is not None else [None] * len(tasks)
    )
    todo = [n for n, r in enumerate(results) if r is None]
    for n, result in zip(todo, pool.analyse_pages([tasks[n] for n in todo], jobs, progress, limits), strict=True):
        results[n] = result
    return _waves(work, tasks, [r for r in results if r is not None], jobs, progress, limits)


def _reused(tasks: Sequence[encode.PageTask], early: EarlyPass) -> list[PageAnalysis | encode.PageFailure | None]:
    """Per task, the early pass's result where it is what the task gives, else None. The tasks
    differ where a kind read from content changed the page's colour hint (classify.py: a colour
    kind makes every page that is not blank a colour page), or, rarely, which pages the first
    pass encodes (a file read as the ID photo leaves the pass: originals.initial_split's room)."""
    before = {(t.page.input.path, t.page.page_index): (t, r) for t, r in zip(early.tasks, early.results, strict=True)}
    out: list[PageAnalysis | encode.PageFailure | None] = []
    for task in tasks:
        found = before.get((task.page.input.path, task.page.page_index))
        if found is None:
            out.append(None)
            continue
        old, result = found
        same_page = replace(old.page, input=task.page.input) == task.page
        if not same_page or replace(old, page=task.page, colour_hint=task.colour_hint) != task:
            out.append(None)
        elif old.colour_hint == task.colour_hint or _hint_changes_nothing(result, task.colour_hint):
            out.append(replace(result, page=task.page))
        else:
            out.append(None)
    return out


def _hint_changes_nothing(result: PageAnalysis | encode.PageFailure, hint: bool) -> bool:
    """Whether a page analysed with the other colour hint comes out the same with `hint`: a
    blank page is blank either way, and a page found colour without the hint is colour with it."""
    if not isinstance(result, PageAnalysis):
        return False
    return result.page_class.name == "blank" or (hint and result.page_class.name == "colour")


def _waves(work: PageWork, tasks: list[encode.PageTask], results: list[PageAnalysis | encode.PageFailure],
           jobs: int, progress: ProgressFn | None, limits: pool.PageLimits) -> FirstPass:
    """Encode looked-at pages after all, in waves, while the pages at level 1 exceed the room."""
    while work.room_bytes is not None:
        analysed = [r for r in results if isinstance(r, PageAnalysis) and r.candidates]  # blank pages cost nothing
        at_level_one = sum(originals.level_one_bytes(r) for r in analysed)
        looked = [n for n, (t, r) in enumerate(zip(tasks, results, strict=True))
                  if t.rungs == ORIGINALS_ONLY and isinstance(r, PageAnalysis) and r.candidates]
        if at_level_one <= work.room_bytes or not looked:
            break
        # Another wave: looked-at pages encoded after all, their first look reused (class, original).
        wave = [looked[i] for i in originals.next_wave([results[n] for n in looked], at_level_one - work.room_bytes)]
        for n in wave:
            tasks[n] = replace(tasks[n], rungs=FIRST_PASS_RUNGS, first_look=results[n])
        for n, result in zip(wave, pool.analyse_pages([tasks[n] for n in wave], jobs, progress, limits), strict=True):
            results[n] = result
    return _sorted_out(results, work.unreadable)


def _sorted_out(results: Sequence[PageAnalysis | encode.PageFailure], unreadable: dict[str, str]) -> FirstPass:
    """The pass's results by input: blank pages dropped, an input with a failed page rejected."""
    analyses: dict[str, list[PageAnalysis]] = {}
    dropped: list[DroppedPage] = []
    failed: dict[str, str] = dict(unreadable)
    for result in results:
        path = result.page.input.path
        if isinstance(result, encode.PageFailure):
            failed.setdefault(path, result.reason)
            continue
        if not result.candidates:
            dropped.append(DroppedPage(path, result.page.page_index, "blank page"))
            continue
        analyses.setdefault(path, []).append(result)
    for path in failed:
        analyses.pop(path, None)
    return FirstPass(analyses, tuple(d for d in dropped if d.source not in failed), failed)


def second_pass(
    documents: Sequence[Document],
    tasks: Sequence[encode.PageTask],
    system: SystemProfile,
    jobs: int,
    progress: ProgressFn | None,
    fits: Callable[[Sequence[Document]], bool],
) -> list[Document]:
    """Encode lower rungs until the documents fit (`fits`: at some level, nothing mailed):
    first the next rung of every page — the next level, one decode a page —, and only when
    that does not fit every rung left (mailing is decided on the lowest). The plan picks the
    best level that fits, so the rungs below it are never needed: at 10 MB the heavy bundle
    fits at level 2, and its colour pages' six JPEG rungs were encoded for nothing."""
    docs = _encode_more(documents, tasks, system, jobs, progress, next_only=True)
    return docs if fits(docs) else _encode_more(docs, tasks, system, jobs, progress, next_only=False)


def _encode_more(
    documents: Sequence[Document],
    tasks: Sequence[encode.PageTask],
    system: SystemProfile,
    jobs: int,
    progress: ProgressFn | None,
    *,
    next_only: bool,
) -> list[Document]:
    """Encode the next rung not yet tried of every page (`next_only`), or all of them."""
    by_key = {t.task_id: t for t in tasks}
    again: list[encode.PageTask] = []
    for d in documents:
        for a in d.pages:
            task = by_key[a.spool_key]
            # A page only looked at has a rough class (encode._look), which the worker replaces:
            # ask for as many rungs as the longest ladder has (a rung past its ladder is skipped).
            ladder = system.ladders[a.page_class.name]
            rungs_n = max(map(len, system.ladders.values())) if a.rough_class else len(ladder)
            rest = tuple(r for r in range(1, rungs_n + 1) if r not in a.tried)
            if rest:
                again.append(replace(task, rungs=rest[:1] if next_only else rest, first_look=a))
    done: dict[str, PageAnalysis] = {}
    for result in pool.analyse_pages(again, jobs, progress, page_limits(system)):
        if isinstance(result, PageAnalysis):  # a page decoded once decodes again; if not, keep pass one
            done[result.spool_key] = result
    return [replace(d, pages=tuple(done.get(a.spool_key, a) for a in d.pages)) for d in documents]

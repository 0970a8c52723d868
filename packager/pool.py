"""The worker pool: run per-page work in worker processes, results back in task order.

The build's two kinds of per-page work run here: `analyse_pages` (classify and encode every
page at its rungs) and `write_mail_pages` (a mailed page at full quality). The pool knows
nothing of the plan; it only decides how work is spread over processes.
"""

from __future__ import annotations

import multiprocessing
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

from packager import encode
from packager.model import PageAnalysis, PageClass, SourcePage

# progress(stage, done, total): called from the main process only.
ProgressFn = Callable[[str, int, int], None]
# A mailed page to write: the source page, its class, and the spool path to write it to.
MailPageJob = tuple[SourcePage, PageClass, Path]
# What writing a mailed page gives: (bytes written, how the page was made).
MailPageResult = tuple[int, str]


def _mp_context() -> multiprocessing.context.BaseContext:
    """fork when this process has one thread (fast, and no re-import of the caller's
    __main__); forkserver when it has more (the watcher), since fork() copies locks held
    by other threads and can deadlock the child."""
    if threading.active_count() == 1:
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("forkserver")


def analyse_pages(
    tasks: Sequence[encode.PageTask], jobs: int, progress: ProgressFn | None = None
) -> Iterator[PageAnalysis | encode.PageFailure]:
    """Run encode.analyse_page over tasks, in worker processes when jobs > 1; results in task order.

    The costliest pages are handed out first, so the workers finish together instead of one
    encoding a big TIFF page while the other waits (longest-processing-time-first)."""
    total = len(tasks)
    if jobs <= 1 or total <= 1:
        for i, task in enumerate(tasks, 1):
            yield encode.analyse_page(task)
            if progress:
                progress("pages", i, total)
        return
    results: list[PageAnalysis | encode.PageFailure | None] = [None] * total
    with ProcessPoolExecutor(max_workers=jobs, mp_context=_mp_context()) as pool:
        order = sorted(range(total), key=lambda i: -expected_work(tasks[i]))
        futures = {pool.submit(encode.analyse_page, tasks[i]): i for i in order}
        for done, future in enumerate(as_completed(futures), 1):
            results[futures[future]] = future.result()
            if progress:
                progress("pages", done, total)
    for result in results:
        assert result is not None  # every future completed above
        yield result


def expected_work(task: encode.PageTask) -> float:
    """A page's decode and encode work, roughly: pixels decoded × (1 + rungs encoded)."""
    page = task.page
    dpi = min(page.native_dpi, encode.decode_dpi(task, first_look_only=task.rungs == () and task.known is None))
    pixels = page.width_in * page.height_in * dpi * dpi
    rungs = len(task.rungs) if task.rungs is not None else 1
    # Files without a stream to keep (PNG, TIFF, HEIC …) are decoded in full and encoded.
    slow_decode = 2.0 if not encode.original_possible(page) else 1.0
    return pixels * slow_decode * (1 + rungs)


def write_mail_pages(pages: Sequence[MailPageJob], jobs: int) -> list[MailPageResult]:
    """Write each mailed page at full quality to its spool path; results in order."""
    if jobs <= 1 or len(pages) <= 1:
        return [_write_mail_page(page) for page in pages]
    with ProcessPoolExecutor(max_workers=jobs, mp_context=_mp_context()) as pool:
        return list(pool.map(_write_mail_page, pages, chunksize=1))


def _write_mail_page(job: MailPageJob) -> MailPageResult:
    """One mailed page (a module-level function: the pool pickles it by name)."""
    return encode.write_mail_page(*job)

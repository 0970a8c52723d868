"""The worker pool: run per-page work in worker processes, results back in task order.

The build's two kinds of per-page work run here: `analyse_pages` (classify and encode every
page at its rungs) and `write_mail_pages` (a mailed page at full quality). The pool knows
nothing of the plan; it only decides how work is spread over processes.
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing
import resource
import signal
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

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


@dataclass(frozen=True)
class PageLimits:
    """What one page may cost in its worker before the worker is ended and the page's input is
    rejected (a hostile or broken file can make a decoder spin or allocate without end)."""

    time_s: float = 60.0  # wall time for one page's decode and encodes
    memory_bytes: int = 3_000_000_000  # address space of the worker (RLIMIT_AS); 0: no limit


DEFAULT_LIMITS = PageLimits()


def analyse_pages(
    tasks: Sequence[encode.PageTask],
    jobs: int,
    progress: ProgressFn | None = None,
    limits: PageLimits = DEFAULT_LIMITS,
) -> Iterator[PageAnalysis | encode.PageFailure]:
    """Run encode.analyse_page over tasks, in worker processes when jobs > 1; results in task order.

    The costliest pages are handed out first, so the workers finish together instead of one
    encoding a big TIFF page while the other waits (longest-processing-time-first). A page that
    runs past `limits` or kills its worker (a decoder's crash) becomes a PageFailure naming why;
    the worker is replaced and the other pages go on."""
    total = len(tasks)
    if jobs <= 1 or total <= 1:
        for i, task in enumerate(tasks, 1):
            yield encode.analyse_page(task)
            if progress:
                progress("pages", i, total)
        return
    order = sorted(range(total), key=lambda i: -expected_work(tasks[i]))
    results = run_limited(
        encode.analyse_page, tasks, order, min(jobs, total), limits, progress,
        lambda task, why: encode.PageFailure(task.page, f"page {task.page.page_index + 1} {why}"),
    )  # fmt: skip
    yield from results


# ---------------------------------------------------------------------------- workers with limits


# glibc's mallopt parameters (malloc.h): M_TRIM_THRESHOLD, M_MMAP_THRESHOLD.
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3


def _keep_freed_buffers() -> None:
    """Let a worker reuse the memory of one page's images for the next. By default glibc gives
    every buffer above a few MB its own mmap and unmaps it when freed, so each page's decoded
    image (~26 MB at 300 dpi A4) is faulted in and zeroed by the kernel afresh: measured on the
    typical bundle, system time 0.65–1.07 s → 0.25–0.32 s and wall 1.9–2.6 s → 1.7–1.85 s.
    Workers live for one pass, so what they keep is given back when they end. Not glibc
    (musl, macOS): nothing to tune."""
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return
    mallopt(_M_MMAP_THRESHOLD, 256 << 20)  # a buffer below this comes from the heap
    mallopt(_M_TRIM_THRESHOLD, 512 << 20)  # free heap kept up to this before it is returned


def _worker_main(conn: Connection, fn: Callable[[Any], Any], memory_bytes: int) -> None:
    """A worker: set its memory limit, then run fn on each task sent to it until told to stop."""
    _keep_freed_buffers()
    if memory_bytes > 0:
        with contextlib.suppress(ValueError, OSError):  # a hard limit below ours: keep it
            resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    while True:
        try:
            item = conn.recv()
        except (EOFError, OSError):
            return
        if item is None:
            return
        index, task = item
        try:
            reply: tuple[str, Any] = ("ok", fn(task))
        except MemoryError:
            reply = ("memory", None)
        except Exception as e:  # a bug in packager: the main process re-raises it
            reply = ("error", f"{type(e).__name__}: {e}\n{traceback.format_exc()}")
        try:
            conn.send((index, reply))
        except MemoryError:
            conn.send((index, ("memory", None)))


class _Worker:
    def __init__(self, ctx: multiprocessing.context.BaseContext, fn: Callable[[Any], Any], memory_bytes: int) -> None:
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(target=_worker_main, args=(child, fn, memory_bytes), daemon=True)
        self.process.start()
        child.close()
        self.index: int | None = None  # the task it is working on
        self.deadline = 0.0

    def give(self, index: int, task: Any, time_s: float) -> None:
        self.index = index
        self.deadline = time.monotonic() + time_s
        self.conn.send((index, task))

    def end(self) -> None:
        """Stop it for good: a worker past its limit is killed, not asked."""
        if self.process.is_alive():
            self.process.kill()
        self.process.join()
        self.conn.close()

    def let_go(self) -> None:
        """The pass is over: an idle worker is told to stop and not waited for. Its exit is the
        kernel freeing its memory (the heap _keep_freed_buffers keeps: 11–23 ms a worker,
        waited for one after the other at the end of every pass), which goes on while this
        process assembles; multiprocessing reaps it later (run_limited's next start, or exit).
        A worker still busy (the pass failed) is ended."""
        if self.index is not None:
            self.end()
            return
        with contextlib.suppress(OSError, ValueError):
            self.conn.send(None)
        self.conn.close()


class WorkerBug(RuntimeError):
    """An exception in a worker that is packager's own (exit 1), with the worker's traceback."""


def run_limited(
    fn: Callable[[Any], Any],
    tasks: Sequence[Any],
    order: Sequence[int],
    workers_n: int,
    limits: PageLimits,
    progress: ProgressFn | None,
    failure: Callable[[Any, str], Any],
) -> list[Any]:
    """fn over tasks in `workers_n` processes, handed out in `order`; results in task order.
    A task past the time limit, out of memory or whose worker died gets failure(task, why);
    an exception raised by fn is packager's own bug and is raised here as WorkerBug."""
    ctx = _mp_context()
    multiprocessing.active_children()  # reaps the workers an earlier pass let go (_Worker.let_go)
    pending = list(reversed(order))  # pop() from the end: the costliest first
    results: list[Any] = [None] * len(tasks)
    done = 0
    workers = [_Worker(ctx, fn, limits.memory_bytes) for _ in range(workers_n)]
    try:
        while done < len(tasks):
            for n, w in enumerate(workers):
                if w.index is None and pending:
                    if not w.process.is_alive():  # died while idle (killed from outside): a new one
                        w.end()
                        workers[n] = w = _Worker(ctx, fn, limits.memory_bytes)
                    i = pending.pop()
                    w.give(i, tasks[i], limits.time_s)
            busy = [w for w in workers if w.index is not None]
            timeout = max(0.0, min(w.deadline for w in busy) - time.monotonic())
            ready = set(wait([w.conn for w in busy] + [w.process.sentinel for w in busy], timeout))
            for n, w in enumerate(workers):
                if w.index is None:
                    continue
                index = w.index
                outcome: Any = None
                if w.conn in ready or w.process.sentinel in ready:
                    try:
                        got, (status, value) = w.conn.recv()
                    except (EOFError, OSError):  # the worker died: a decoder crashed
                        w.process.join(5)  # its pipe closes a moment before its exit status is known
                        code = w.process.exitcode
                        outcome = failure(tasks[index], f"crashed the decoder{_signal_name(code)}")
                    else:
                        assert got == index
                        if status == "ok":
                            outcome = value
                        elif status == "memory":
                            outcome = failure(
                                tasks[index], f"needs more than {limits.memory_bytes / 1e9:.1f} GB of memory to decode"
                            )
                        else:
                            raise WorkerBug(value)
                        w.index = None
                        results[index] = outcome
                        done += 1
                        if progress:
                            progress("pages", done, len(tasks))
                        if status == "ok":
                            continue
                elif time.monotonic() >= w.deadline:
                    outcome = failure(tasks[index], f"took longer than {limits.time_s:.0f} s to decode and encode")
                else:
                    continue
                # The worker is dead, past its limit or out of memory: replace it.
                w.end()
                workers[n] = _Worker(ctx, fn, limits.memory_bytes)
                if results[index] is None:
                    results[index] = outcome
                    done += 1
                    if progress:
                        progress("pages", done, len(tasks))
    finally:
        for w in workers:
            w.let_go()
    return results


def _signal_name(code: int | None) -> str:
    if code is None or code >= 0:
        return f" (exit {code})" if code else ""
    try:
        return f" ({signal.Signals(-code).name})"
    except ValueError:
        return f" (signal {-code})"


def expected_work(task: encode.PageTask) -> float:
    """A page's decode and encode work, roughly: pixels decoded × (1 + rungs encoded)."""
    page = task.page
    dpi = min(page.native_dpi, encode.decode_dpi(task, first_look_only=task.rungs == () and task.first_look is None))
    pixels = page.width_in * page.height_in * dpi * dpi
    rungs = len(task.rungs) if task.rungs is not None else 1
    # Files without a stream to keep (PNG, TIFF, HEIC …) are decoded in full and encoded.
    slow_decode = 2.0 if not encode.original_possible(page) else 1.0
    return pixels * slow_decode * (1 + rungs)


# ---------------------------------------------------------------------------- work aside


class AsideDied(RuntimeError):
    """The process running work aside ended without a result (killed, or a crash in a library)."""


def _aside_main(conn: Connection, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
    try:
        reply: tuple[str, Any] = ("ok", fn(*args))
    except BaseException as e:  # everything goes back to the caller: no traceback printed here
        reply = ("error", f"{type(e).__name__}: {e}\n{traceback.format_exc()}")
    with contextlib.suppress(OSError):
        conn.send(reply)
    conn.close()


class Aside:
    """One call run in a process of its own while this process goes on (e.g. runs the pool):
    a process, not a thread, so that this process stays single-threaded and its workers can
    still be forked (see _mp_context)."""

    def __init__(self, fn: Callable[..., Any], *args: Any) -> None:
        ctx = _mp_context()
        self._conn, child = ctx.Pipe(duplex=False)
        self._process = ctx.Process(target=_aside_main, args=(child, fn, args), daemon=True)
        self._process.start()
        child.close()

    def result(self) -> Any:
        """Wait for the call's return value. Its exception is packager's own bug (WorkerBug);
        a process that ended without a word raises AsideDied."""
        try:
            status, value = self._conn.recv()
        except (EOFError, OSError) as e:
            self._process.join(5)  # its pipe closes a moment before its exit status is known
            raise AsideDied(f"it ended without a result{_signal_name(self._process.exitcode)}") from e
        finally:
            self._process.join(5)
            self.end()
        if status != "ok":
            raise WorkerBug(value)
        return value

    def end(self) -> None:
        """Stop it if it still runs (the build failed before it was waited for)."""
        if self._process.is_alive():
            self._process.kill()
        self._process.join()
        self._conn.close()


def write_mail_pages(pages: Sequence[MailPageJob], jobs: int) -> list[MailPageResult]:
    """Write each mailed page at full quality to its spool path; results in order."""
    if jobs <= 1 or len(pages) <= 1:
        return [_write_mail_page(page) for page in pages]
    with ProcessPoolExecutor(max_workers=jobs, mp_context=_mp_context()) as pool:
        return list(pool.map(_write_mail_page, pages, chunksize=1))


def _write_mail_page(job: MailPageJob) -> MailPageResult:
    """One mailed page (a module-level function: the pool pickles it by name)."""
    return encode.write_mail_page(*job)

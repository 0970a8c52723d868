"""`packager watch`: a drop-folder service over the same library call as `packager build`.

Concerns, one owner each (see STYLE.md, "The watcher"):

* `_Handler`            watchdog calls it on the observer thread; it only enqueues the top-level name
                        of what changed. One observer (inotify, or PollingObserver with --polling).
* `Watcher.scan`        the startup scan and the periodic rescan: events are lost on network shares
                        and while the service is down, so the folders themselves are the truth.
* `Watcher.poll`        scheduling: junk filter and stability tracker (packager.stability) decide when
                        a case is ready; loose files are wrapped into cases (packager.inbox); ready cases
                        are claimed (packager.journal) and queued; settled receipts are queued
                        (packager.receipts.ReceiptQueue; results found through packager.outbox).
* `Watcher.run_job`     a worker: `WorkArea.finish` (build, place, or set aside in _failed/), or a
                        receipt stamped with packager.outbox.stamp. No exception from one case stops
                        the loop. `_run_threads` owns the threads; `journal.lock_work_area` the OUTBOX.

Everything time-dependent takes an injected clock, and the loop an injected stop event, so the
tests drive it without sleeping.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import queue
import signal
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from watchdog.events import EVENT_TYPE_CLOSED_NO_WRITE, EVENT_TYPE_OPENED, FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.polling import PollingObserver

from packager import receipts
from packager.errors import WatchError
from packager.inbox import LooseFiles, check_folders, is_ours, remove_probes, triage
from packager.journal import CrashHook, Outcome, PackageFn, WorkArea, lock_work_area, read_journal
from packager.options import BuildOptions
from packager.outbox import result_folders
from packager.stability import (
    StabilityTracker,
    is_os_metadata,
    snapshot_case,
    snapshot_file,
)

StampFn = receipts.StampFn
_WAKE = ("", True)  # queue item that only wakes the scheduler


# -- log ---------------------------------------------------------------------------------------------
class EventLog:
    """One line per event on stderr: `2026-01-05T10:00:00+09:00 done case=tanaka bytes=… pages=…`, or JSON."""

    def __init__(self, stream: TextIO | None = None, *, json_lines: bool = False,
                 wall_clock: Callable[[], float] = time.time) -> None:
        self._stream = stream
        self._json = json_lines
        self._wall = wall_clock
        # Reentrant: the signal handler logs on the main thread, possibly in the middle of a line.
        self._lock = threading.RLock()

    def __call__(self, event: str, case: str = "", **fields: Any) -> None:
        ts = dt.datetime.fromtimestamp(self._wall()).astimezone().isoformat(timespec="seconds")
        if self._json:
            record: dict[str, Any] = {"ts": ts, "event": event}
            if case:
                record["case"] = case
            record.update({k: (str(v) if isinstance(v, Path) else v) for k, v in fields.items()})
            line = json.dumps(record, ensure_ascii=False)
        else:
            parts = [ts, event] + ([f"case={_quote(case)}"] if case else [])
            parts += [f"{k}={_quote(str(v))}" for k, v in fields.items()]
            line = " ".join(parts)
        stream = self._stream or sys.stderr
        with self._lock:
            stream.write(line + "\n")
            stream.flush()


def _quote(text: str) -> str:
    return json.dumps(text, ensure_ascii=False) if (not text or any(c.isspace() or c in '"=' for c in text)) else text


# -- jobs ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CaseJob:
    work: Path  # OUTBOX/.work/<id>


@dataclass(frozen=True)
class StampJob:
    case_out: Path  # OUTBOX/<case>
    receipt_sha256: str


Job = CaseJob | StampJob


# -- observer handler ------------------------------------------------------------------------------------
class _Handler(FileSystemEventHandler):
    """Runs on watchdog's thread: it only enqueues (top-level name, is-OS-metadata-noise)."""

    def __init__(self, inbox: Path, put: Callable[[tuple[str, bool]], None]) -> None:
        super().__init__()
        self._inbox = os.fspath(inbox)
        self._put = put

    def on_any_event(self, event: FileSystemEvent) -> None:
        # Our own reads must not look like activity; only changes count.
        if event.event_type in (EVENT_TYPE_OPENED, EVENT_TYPE_CLOSED_NO_WRITE):
            return
        for raw in (event.src_path, getattr(event, "dest_path", "")):
            path = os.fsdecode(raw) if raw else ""
            if not path:
                continue
            rel = os.path.relpath(path, self._inbox)
            if rel == "." or rel.startswith(".."):
                continue
            parts = rel.split(os.sep)
            self._put((parts[0], any(is_os_metadata(p) for p in parts[1:])))


# -- the watcher --------------------------------------------------------------------------------------
class Watcher:
    """The drop-folder service, driven either by `run` (threads) or step by step (tests)."""

    def __init__(
        self,
        inbox: Path,
        outbox: Path,
        *,
        options: BuildOptions | None = None,
        settle_seconds: float = 60.0,
        workers: int = 1,
        package_fn: PackageFn | None = None,
        stamp_fn: StampFn | None = None,
        clock: Callable[[], float] = time.monotonic,
        log: Callable[..., None] | None = None,
        crash_at: CrashHook | None = None,
        rescan_seconds: float | None = None,
    ) -> None:
        if workers < 1:
            raise WatchError(f"--workers must be at least 1 (got {workers})")
        if settle_seconds < 0:
            raise WatchError(f"--settle must be ≥ 0 seconds (got {settle_seconds})")
        self.inbox, self.outbox = check_folders(Path(inbox), Path(outbox))
        self.options = options or BuildOptions()
        self.settle_seconds = settle_seconds
        self.workers = workers
        self.rescan_seconds = rescan_seconds if rescan_seconds is not None else min(30.0, max(1.0, settle_seconds / 2))
        self.tick_seconds = min(1.0, max(0.1, settle_seconds / 10))
        self._package = package_fn or _library_package()
        self._stamp = stamp_fn or _library_stamp()
        self._clock = clock
        self.log: Callable[..., None] = log or EventLog()
        self.area = WorkArea(self.inbox, self.outbox, crash_at=crash_at)
        self.area.ensure()
        self.loose = LooseFiles(self.inbox, crash_at=crash_at)
        self._lock_fd = lock_work_area(self.outbox)
        self.cases = StabilityTracker(settle_seconds, clock)
        self.receipts = receipts.ReceiptQueue(self.outbox, StabilityTracker(settle_seconds, clock))
        self.events: queue.SimpleQueue[tuple[str, bool]] = queue.SimpleQueue()
        self.jobs: queue.Queue[Job] = queue.Queue()
        self._pending: set[str] = set()  # INBOX names to look at
        self._ready_now: set[str] = set()  # wrapped loose files: already settled
        self._seen: set[str] = set()
        self._reported: set[str] = set()
        self._active: set[Path] = set()  # work folders queued or running
        self._state_lock = threading.Lock()
        self._next_rescan = clock()

    def close(self) -> None:
        if self._lock_fd >= 0:
            os.close(self._lock_fd)
            self._lock_fd = -1

    # -- intake of events (any thread) --------------------------------------------------------------
    def note(self, name: str, noise: bool = False) -> None:
        self.events.put((name, noise))

    def wake(self) -> None:
        self.events.put(_WAKE)

    @property
    def in_flight(self) -> int:
        with self._state_lock:
            return len(self._active)

    # -- scheduler steps (scheduler thread only) ----------------------------------------------------------
    def recover(self) -> list[Job]:
        """Finish what a previous run left: interrupted wraps, claimed cases (oldest first)."""
        for name in self.loose.recover():
            self.log("loose-recovered", name)
            self._ready_now.add(name)
            self._pending.add(name)
        remove_probes(self.inbox)
        return self.recover_orphans(say="recovering")

    def scan(self) -> list[Job]:
        """Look at every INBOX entry and every receipt in OUTBOX (startup and periodic rescan)."""
        self._next_rescan = self._clock() + self.rescan_seconds
        try:
            names = os.listdir(self.inbox)
        except OSError as e:
            self.log("error", reason=f"cannot list INBOX: {e.strerror}")
            names = []
        for name in names:
            if not is_ours(name):
                self._pending.add(name)
        for case_out in result_folders(self.outbox):
            self.receipts.notice(case_out)
        # Work folders nobody is working on (a step failed on an I/O error): try them again.
        return self.recover_orphans()

    def recover_orphans(self, say: str = "") -> list[Job]:
        """A job for every work folder no worker has (oldest claim first); logged as `say` when given."""
        jobs: list[Job] = []
        for work in self.area.claimed():
            with self._state_lock:
                if work in self._active:
                    continue
                self._active.add(work)
            if say:
                journal = read_journal(work) or {}
                self.log(say, str(journal.get("case", work.name)), state=journal.get("state", "?"))
            jobs.append(CaseJob(work))
        return jobs

    def poll(self) -> list[Job]:
        """Drain events, re-check pending cases and receipts; claim what is ready. Returns new jobs."""
        while True:
            try:
                name, noise = self.events.get_nowait()
            except queue.Empty:
                break
            if not name:
                continue
            self._pending.add(name)
            if not noise:
                self.cases.touch(name)
        jobs: list[Job] = []
        if self._clock() >= self._next_rescan:
            jobs += self.scan()
        for name in sorted(self._pending):
            job = self._consider(name)
            if job is not None:
                jobs.append(job)
        jobs += [StampJob(case_out, digest) for case_out, digest in self.receipts.due()]
        return jobs

    def _forget(self, name: str) -> None:
        self._pending.discard(name)
        self._ready_now.discard(name)
        self._seen.discard(name)
        self.cases.forget(name)

    def _report_once(self, event: str, name: str, reason: str) -> None:
        if name not in self._reported:
            self._reported.add(name)
            self.log(event, name, reason=reason)

    def _consider(self, name: str) -> Job | None:
        path = self.inbox / name
        entry = triage(self.inbox, name)
        if entry.kind == "gone":
            self._forget(name)
            self._reported.discard(name)
            return None
        if entry.kind == "unreadable":
            self._report_once("skipped", name, entry.reason)
            return None
        if entry.kind in ("ignored", "left"):
            if entry.reason:
                self._report_once("skipped", name, entry.reason)
            self._pending.discard(name)
            return None
        if entry.kind == "file":
            return self._consider_loose(name, path)
        snap = snapshot_case(path)
        if name not in self._seen:
            self._seen.add(name)
            self.log("seen", name, files=snap.content_count)
        settled = self.cases.observe(name, snap.entries)
        if snap.content_count == 0:
            return None  # an empty or junk-only folder is not a case (yet)
        if not (snap.has_ready or settled or name in self._ready_now):
            return None
        if self.in_flight >= self.workers:
            return None  # claim only what a worker can start now: the rest stays safely in INBOX
        by = "READY" if snap.has_ready else ("loose-file" if name in self._ready_now else "settled")
        self.log("ready", name, by=by, files=snap.content_count)
        try:
            work = self.area.claim(name)
        except OSError as e:
            self.cases.forget(name)  # try again after another settle time, but say it once
            self._report_once("skipped", name, f"cannot claim: {e.strerror}; check permissions on INBOX")
            return None
        self._forget(name)
        if work is None:
            return None
        with self._state_lock:
            self._active.add(work)
        self.log("claimed", name, work=work)
        return CaseJob(work)

    def _consider_loose(self, name: str, path: Path) -> None:
        snap = snapshot_file(path)
        if snap is None:
            self._forget(name)
            return None
        key = "\0loose\0" + name  # never a folder name
        if not self.cases.observe(key, snap.entries):
            return None
        self.cases.forget(key)
        try:
            case = self.loose.wrap(name)
        except OSError as e:
            self._report_once("skipped", name, f"cannot move the loose file into a case folder: {e.strerror}")
            return None
        self._pending.discard(name)
        if case is not None:
            self.log("loose-wrapped", case, file=name)
            self._pending.add(case)
            self._ready_now.add(case)
        return None

    def next_wait(self) -> float:
        """How long the scheduler may sleep before something could become ready."""
        until_rescan = max(0.0, self._next_rescan - self._clock())
        if self._pending or self.receipts.waiting:
            return min(self.tick_seconds, until_rescan)
        return min(1.0, until_rescan)

    # -- workers ------------------------------------------------------------------------------------------
    def run_job(self, job: Job) -> Outcome | None:
        """Run one job to its end; never raises for a per-case problem."""
        if isinstance(job, StampJob):
            try:
                done = receipts.stamp_from_receipt(job.case_out, job.receipt_sha256, self._stamp)
                if done.ok:
                    self.log("stamped", job.case_out.name, receipt=done.receipt)
                else:
                    self.log("stamp-failed", job.case_out.name, reason=done.reason)
            finally:
                self.receipts.finished(job.case_out)
                self.wake()
            return None
        try:
            outcome = self.area.finish(job.work, self._package, self.options,
                                       lambda event, case, fields: self.log(event, case, **fields))
        except Exception as e:  # I/O trouble (disk full, permissions): the journal keeps the case safe
            self.log("error", job.work.name, reason=f"{type(e).__name__}: {e}; will retry at the next rescan")
            outcome = None
        finally:
            with self._state_lock:
                self._active.discard(job.work)
            self.wake()
        if outcome is not None:
            _log_outcome(self.log, outcome)
            if outcome.status == "released":
                self.note(outcome.case)
        return outcome

    # -- the threaded service --------------------------------------------------------------------------------
    def run(self, stop: threading.Event, *, polling: bool = False) -> None:
        """Serve until `stop` is set; the case in hand is finished, claimed-but-unstarted ones wait in the journal."""
        _run_threads(self, stop, polling)

    def drop_unstarted(self, job: Job) -> None:
        """A job taken off the queue at shutdown: a claimed case stays in the work area for the next start."""
        if isinstance(job, CaseJob):
            with self._state_lock:
                self._active.discard(job.work)


def _log_outcome(log: Callable[..., None], outcome: Outcome) -> None:
    if outcome.status == "done":
        log("done", outcome.case, out=outcome.dest, bytes=outcome.upload_bytes, pages=outcome.page_count,
            exit=outcome.exit_code)
    elif outcome.status == "failed":
        log("failed", outcome.case, out=outcome.dest, reason=outcome.reason)
    else:
        log("released", outcome.case, reason="claim undone; the case is back in INBOX")


def _library_package() -> PackageFn:
    from packager import api  # the build stack is loaded when the watcher starts, not on import

    return api.package


def _library_stamp() -> StampFn:
    from packager import outbox

    return outbox.stamp


# -- the threaded service ------------------------------------------------------------------------------
def _run_threads(w: Watcher, stop: threading.Event, polling: bool) -> None:
    """One observer thread (it only enqueues), one scheduler loop (this thread), `workers` job threads."""
    observer = PollingObserver(timeout=1.0) if polling else Observer()
    observer.schedule(_Handler(w.inbox, w.events.put), os.fspath(w.inbox), recursive=True)
    try:
        observer.start()
    except OSError as e:
        raise WatchError(
            f"{w.inbox}: cannot watch the folder ({e.strerror}); try --polling (network shares, "
            "or raise fs.inotify.max_user_watches)"
        ) from e
    threads = [threading.Thread(target=_work, args=(w, stop), name=f"packager-worker-{i}", daemon=True)
               for i in range(w.workers)]
    w.log("watching", inbox=w.inbox, outbox=w.outbox, settle=w.settle_seconds,
          observer="polling" if polling else "native", workers=w.workers)
    try:
        for t in threads:
            t.start()
        for job in w.recover() + w.scan():
            w.jobs.put(job)
        while not stop.is_set():
            try:
                for job in w.poll():
                    w.jobs.put(job)
            except Exception as e:  # nothing in one folder may stop the service; the next tick retries
                w.log("error", reason=f"{type(e).__name__}: {e}")
            with contextlib.suppress(queue.Empty):
                item = w.events.get(timeout=max(0.05, w.next_wait()))
                if item != _WAKE:
                    w.events.put(item)  # poll() handles it
    finally:
        stop.set()
        for t in threads:
            t.join()
        observer.stop()
        observer.join(timeout=10)
        w.log("stopped")
        w.close()


def _work(w: Watcher, stop: threading.Event) -> None:
    while not stop.is_set():
        try:
            job = w.jobs.get(timeout=0.5)
        except queue.Empty:
            continue
        if stop.is_set():
            w.drop_unstarted(job)
            break
        w.run_job(job)


def serve(
    inbox: Path,
    outbox: Path,
    *,
    options: BuildOptions,
    settle_seconds: float = 60.0,
    polling: bool = False,
    workers: int = 1,
    log_json: bool = False,
    stop: threading.Event | None = None,
) -> int:
    """Run the watcher until SIGTERM/SIGINT (or `stop`); returns the exit code. Raises WatchError at start."""
    log = EventLog(json_lines=log_json)
    watcher = Watcher(inbox, outbox, options=options, settle_seconds=settle_seconds, workers=workers, log=log)
    stop = stop or threading.Event()
    previous: dict[int, Any] = {}

    def on_signal(signum: int, _frame: object) -> None:
        if stop.is_set():
            # A second signal: stop now. Safe: the journal resumes the case at the next start.
            log("killed", reason=f"second {signal.Signals(signum).name}; the case in hand resumes at next start")
            os._exit(130)
        log("stopping", reason=f"{signal.Signals(signum).name}: finishing the case in hand")
        stop.set()
        watcher.wake()

    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            previous[sig] = signal.signal(sig, on_signal)
    try:
        watcher.run(stop, polling=polling)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0

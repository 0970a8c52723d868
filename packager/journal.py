"""Claim, journal and recovery of watched cases: each claimed case finishes exactly once.

A case is claimed by renaming INBOX/<case> into the work area OUTBOX/.work/<id>/case (one
atomic rename on one filesystem). Beside it lives `journal.json`, a small record rewritten
atomically (temporary file, fsync, rename) before every step that moves files, so that after
SIGKILL or power loss at any moment `WorkArea.finish` resumes the case from what the journal
and the disk say, and every step is safe to repeat:

    claiming → claimed → building → built → placing → (work folder removed)
                                  ↘ failed → failing → (work folder removed)

* building: the staging folder `out/` is deleted and the case is built again from scratch, so
  a half-written output can never be placed; after MAX_BUILD_ATTEMPTS interrupted builds the
  case is set aside in _failed/ (a case that kills the process must not stop the queue);
* built/placing: the originals move into `out/originals/`, then `out/` is renamed to
  OUTBOX/<case>/ (a suffix on a clash; an existing result is never replaced);
* failed/failing: the case, junk restored, gets `reason.txt` and moves whole to
  OUTBOX/_failed/<case>/.

Loose files dropped directly into INBOX are wrapped into case folders by packager.inbox; the
OUTBOX lock (`lock_work_area`) keeps a second watcher away. packager.outbox reads the journals
to list cases in progress.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

from packager.atomic import atomic_write_text, fsync_dir
from packager.errors import PackagerError, WatchError
from packager.options import BuildOptions
from packager.outputs import MANIFEST
from packager.stability import OWN_REASON_FILE, REASON_FILE, is_junk, is_ready_marker

WORK_DIR = ".work"
FAILED_DIR = "_failed"
RESERVED_NAMES = frozenset({WORK_DIR, FAILED_DIR})
JOURNAL_NAME = "journal.json"
CASE_SUBDIR = "case"  # OUTBOX/.work/<id>/case: the claimed case folder, as it left INBOX
LOCK_NAME = ".lock"  # OUTBOX/.work/.lock: one watcher per OUTBOX
MAX_BUILD_ATTEMPTS = 8  # random external kills (soak: 25 kills 0.3–2.5 s apart) tripped 4

CrashHook = Callable[[str], None]


class BuildOutcome(Protocol):
    """What the work area reads of a finished build (packager.api.BuildResult has it)."""

    @property
    def upload_bytes(self) -> int: ...

    @property
    def page_count(self) -> int: ...

    @property
    def exit_code(self) -> int: ...


class PackageFn(Protocol):
    """The build the work area runs for a claimed case: packager.api.package, or a test's stand-in."""

    def __call__(self, case_dir: Path, out_dir: Path, options: BuildOptions, /) -> BuildOutcome: ...


# notify(event, case, fields): the watcher turns these into log lines.
NotifyFn = Callable[[str, str, dict[str, Any]], None]


@dataclass(frozen=True)
class Outcome:
    """How one claimed case ended."""

    case: str  # the case's folder name in INBOX
    status: Literal["done", "failed", "released"]  # released: the claim was undone, the case is back in INBOX
    dest: Path | None  # OUTBOX/<case>[-n] or OUTBOX/_failed/<case>[-n]
    upload_bytes: int = 0
    page_count: int = 0
    exit_code: int = 0
    reason: str = ""


def lock_work_area(outbox: Path) -> int:
    """Take OUTBOX's lock (a file descriptor to keep open); WatchError when another watcher has it.

    Two watchers on one OUTBOX would each redo the other's claimed cases."""
    fd = os.open(outbox / WORK_DIR / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError as e:
        os.close(fd)
        raise WatchError(f"{outbox}: another packager watch is already serving this OUTBOX") from e
    return fd


def free_name(folder: Path, name: str, reserved: frozenset[str] = frozenset()) -> str:
    """`name`, or `name-2`, `name-3`… : the first that does not exist in folder (never overwrite)."""
    if name not in reserved and not os.path.lexists(folder / name):
        return name
    n = 2
    while os.path.lexists(folder / f"{name}-{n}"):
        n += 1
    return f"{name}-{n}"


def read_journal(work: Path) -> dict[str, Any] | None:
    """A work folder's journal, or None when there is none (killed before its first write)."""
    try:
        data = json.loads((work / JOURNAL_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def write_journal(work: Path, data: dict[str, Any]) -> None:
    atomic_write_text(work / JOURNAL_NAME, json.dumps(data, ensure_ascii=False, indent=1, sort_keys=True))


def case_name_of(work: Path) -> str:
    """The INBOX name of a claimed case when its journal cannot tell: work folders are <name>[~n]."""
    return work.name.split("~")[0]


def _rename(src: Path, dst: Path) -> None:
    os.rename(src, dst)
    fsync_dir(dst.parent)
    if src.parent != dst.parent:
        fsync_dir(src.parent)


def junk_entries(case_dir: Path) -> list[str]:
    """Top-most junk entries of a case (and its READY marker), relative POSIX paths; links not followed."""
    found: list[str] = []
    stack: list[tuple[Path, str]] = [(case_dir, "")]
    while stack:
        folder, prefix = stack.pop()
        try:
            with os.scandir(folder) as it:
                listing = sorted(it, key=lambda e: e.name)
        except OSError:
            continue
        for entry in listing:
            rel = prefix + entry.name
            if is_junk(entry.name) or (not prefix and is_ready_marker(entry.name)):
                found.append(rel)
            elif entry.is_dir(follow_symlinks=False):
                stack.append((Path(entry.path), rel + "/"))
    return sorted(found)


class WorkArea:
    """The work area OUTBOX/.work and the operations that move cases through it."""

    def __init__(self, inbox: Path, outbox: Path, *, crash_at: CrashHook | None = None) -> None:
        self.inbox = inbox
        self.outbox = outbox
        self.root = outbox / WORK_DIR
        self.failed = outbox / FAILED_DIR
        self._crash_at = crash_at or (lambda _point: None)
        # Choosing a free destination name and renaming onto it must not interleave between workers.
        self._place_lock = threading.Lock()

    def ensure(self) -> None:
        for folder in (self.outbox, self.root, self.failed):
            folder.mkdir(parents=True, exist_ok=True)

    # -- journal -----------------------------------------------------------------------------

    def claimed(self) -> list[Path]:
        """Work folders left by this or an earlier run, oldest claim first."""
        if not self.root.is_dir():
            return []
        found = [p for p in self.root.iterdir() if p.is_dir() and not p.is_symlink() and not p.name.startswith(".")]

        def order(p: Path) -> tuple[float, str]:
            j = read_journal(p) or {}
            return (float(j.get("claimed_at", 0.0)), p.name)

        return sorted(found, key=order)

    # -- claim ---------------------------------------------------------------------------------
    def claim(self, name: str) -> Path | None:
        """Move INBOX/<name> into a new work folder; None when it vanished before the rename."""
        source = self.inbox / name
        self.root.mkdir(parents=True, exist_ok=True)
        work = self._new_work_dir(name)
        journal = {
            "version": 1,
            "case": name,
            "source": str(source),
            "state": "claiming",
            "claimed_at": time.time(),
            "attempts": 0,
            "junk": [],
        }
        write_journal(work, journal)
        self._crash_at("claim.journaled")
        try:
            _rename(source, work / CASE_SUBDIR)
        except FileNotFoundError:
            shutil.rmtree(work, ignore_errors=True)
            return None
        except OSError:
            shutil.rmtree(work, ignore_errors=True)  # e.g. no permission to move it: the case stays in INBOX
            raise
        self._crash_at("claim.renamed")
        journal["state"] = "claimed"
        write_journal(work, journal)
        return work

    def _new_work_dir(self, name: str) -> Path:
        n = 1
        while True:
            work = self.root / (name if n == 1 else f"{name}~{n}")
            try:
                work.mkdir()
                fsync_dir(self.root)
                return work
            except FileExistsError:
                n += 1

    # -- the state machine -----------------------------------------------------------------------
    def finish(
        self,
        work: Path,
        package_fn: PackageFn,
        options: BuildOptions,
        notify: NotifyFn | None = None,
    ) -> Outcome | None:
        """Drive one work folder to its end from whatever state it is in; None if it is not ours."""
        say: NotifyFn = notify or (lambda _e, _c, _f: None)
        journal = self._load(work)
        if journal is None:
            return None
        while True:
            state = journal["state"]
            case = str(journal["case"])
            if state == "claiming":
                if os.path.lexists(work / CASE_SUBDIR):
                    journal["state"] = "claimed"
                    write_journal(work, journal)
                    continue
                # Killed between journal and rename: the case never left INBOX.
                shutil.rmtree(work, ignore_errors=True)
                return Outcome(case, "released", None)
            if state in ("claimed", "building"):
                if state == "building" and int(journal["attempts"]) >= MAX_BUILD_ATTEMPTS:
                    self._mark_failed(
                        work,
                        journal,
                        f"the build was interrupted {journal['attempts']} times (the watcher was killed or "
                        "crashed while building this case); check the inputs, then drop the case in again",
                    )
                    continue
                self._build(work, journal, package_fn, options, say)
                continue
            if state == "built":
                self._stage_originals(work, journal)
                continue
            if state == "placing":
                dest = self._place(work / "out", self.outbox, journal, work, reserved=RESERVED_NAMES)
                shutil.rmtree(work, ignore_errors=True)
                fsync_dir(self.root)
                return Outcome(
                    case,
                    "done",
                    dest,
                    int(journal.get("upload_bytes", 0)),
                    int(journal.get("page_count", 0)),
                    int(journal.get("exit_code", 0)),
                )
            if state == "failed":
                self._stage_failure(work, journal)
                continue
            if state == "failing":
                dest = self._place(work / CASE_SUBDIR, self.failed, journal, work)
                shutil.rmtree(work, ignore_errors=True)
                fsync_dir(self.root)
                return Outcome(case, "failed", dest, exit_code=int(journal.get("exit_code", 1)),
                               reason=str(journal.get("reason", "")))
            raise PackagerError(f"{work / JOURNAL_NAME}: unknown state {state!r}; move the folder aside by hand")

    def _load(self, work: Path) -> dict[str, Any] | None:
        journal = read_journal(work)
        if journal is not None and "state" in journal and "case" in journal:
            journal.setdefault("attempts", 0)
            journal.setdefault("junk", [])
            return journal
        # No readable journal. Atomic writes make that mean: killed before the first write.
        if os.path.lexists(work / CASE_SUBDIR):
            journal = {"version": 1, "case": case_name_of(work), "state": "claimed", "attempts": 0,
                       "junk": [], "claimed_at": time.time(), "source": str(self.inbox / work.name)}
            write_journal(work, journal)
            return journal
        with contextlib.suppress(OSError):
            for p in work.glob(".tmp-*"):
                p.unlink()
            work.rmdir()  # only when empty: never delete what we do not understand
        return None

    def _build(self, work: Path, journal: dict[str, Any], package_fn: PackageFn, options: BuildOptions,
               say: NotifyFn) -> None:
        case_dir, out, ignored = work / CASE_SUBDIR, work / "out", work / "ignored"
        journal["attempts"] = int(journal["attempts"]) + 1
        junk = sorted(set(journal["junk"]) | set(junk_entries(case_dir)))
        journal["junk"] = junk
        journal["state"] = "building"
        write_journal(work, journal)
        # Junk and the READY marker are set aside so the library sees only the case's inputs.
        for rel in junk:
            src = case_dir / rel
            if os.path.lexists(src):
                (ignored / rel).parent.mkdir(parents=True, exist_ok=True)
                os.rename(src, ignored / rel)
        if out.exists():
            shutil.rmtree(out)  # an interrupted build: never place half an output
        self._crash_at("build.prepared")
        say("started", str(journal["case"]), {"attempt": journal["attempts"]})
        try:
            result = package_fn(case_dir, out, options)
        except PackagerError as e:
            journal["exit_code"] = int(e.exit_code)
            self._mark_failed(work, journal, str(e))
            return
        except Exception as e:  # any other error is a bug in packager; this case must not stop the loop
            journal["exit_code"] = 1
            self._mark_failed(work, journal, f"internal error: {type(e).__name__}: {e}")
            return
        if not (out / MANIFEST).is_file():
            journal["exit_code"] = 1
            self._mark_failed(work, journal, "internal error: the build returned but wrote no manifest.json")
            return
        self._crash_at("build.packaged")
        journal["state"] = "built"
        journal["upload_bytes"] = int(result.upload_bytes)
        journal["page_count"] = int(result.page_count)
        journal["exit_code"] = int(result.exit_code)
        write_journal(work, journal)
        self._crash_at("build.journaled")

    def _stage_originals(self, work: Path, journal: dict[str, Any]) -> None:
        out = work / "out"
        if os.path.lexists(work / CASE_SUBDIR):
            _rename(work / CASE_SUBDIR, out / "originals")
        self._crash_at("place.originals")
        if os.path.lexists(work / "ignored"):
            _rename(work / "ignored", out / "ignored")
        with self._place_lock:
            journal["dest"] = free_name(self.outbox, str(journal["case"]), RESERVED_NAMES)
            journal["state"] = "placing"
            write_journal(work, journal)
        self._crash_at("place.journaled")

    def _mark_failed(self, work: Path, journal: dict[str, Any], reason: str) -> None:
        journal["state"] = "failed"
        # The library names the files it read, which are in the work area; name the case instead.
        reason = reason.replace(str(work / CASE_SUBDIR), str(journal["case"]))
        journal["reason"] = " ".join(reason.split())[:2000]  # one line, bounded
        journal.setdefault("exit_code", 1)
        # Chosen before anything is written, so a restart does not mistake our file for an input.
        journal["reason_file"] = OWN_REASON_FILE if os.path.lexists(work / CASE_SUBDIR / REASON_FILE) else REASON_FILE
        write_journal(work, journal)
        self._crash_at("fail.journaled")

    def _stage_failure(self, work: Path, journal: dict[str, Any]) -> None:
        case_dir, ignored = work / CASE_SUBDIR, work / "ignored"
        for rel in journal["junk"]:  # the case goes to _failed whole, as it arrived
            src = ignored / rel
            if os.path.lexists(src):
                (case_dir / rel).parent.mkdir(parents=True, exist_ok=True)
                os.rename(src, case_dir / rel)
        if (work / "out").exists():
            shutil.rmtree(work / "out")
        # Written in the work folder first: a crash leaves no temporary inside the case.
        staged = work / REASON_FILE
        atomic_write_text(staged, f"{journal['case']}: {journal['reason']}\n")
        _rename(staged, case_dir / str(journal["reason_file"]))
        self._crash_at("fail.reasoned")
        with self._place_lock:
            journal["dest"] = free_name(self.failed, str(journal["case"]))
            journal["state"] = "failing"
            write_journal(work, journal)

    def _place(self, src: Path, folder: Path, journal: dict[str, Any], work: Path,
               reserved: frozenset[str] = frozenset()) -> Path:
        """Rename src to folder/<dest>; when src is already gone the rename happened before a crash."""
        dest = folder / str(journal["dest"])
        if not os.path.lexists(src):
            return dest
        with self._place_lock:
            if os.path.lexists(dest):  # someone took the name since it was journaled
                journal["dest"] = free_name(folder, str(journal["case"]), reserved)
                write_journal(work, journal)
                dest = folder / str(journal["dest"])
            folder.mkdir(parents=True, exist_ok=True)
            _rename(src, dest)
        self._crash_at("place.renamed")
        return dest

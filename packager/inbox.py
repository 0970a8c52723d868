"""The INBOX side of the watcher: checking the folder pair, and wrapping loose files into cases.

A scanner often drops single files straight into INBOX. Each settled loose file becomes a case
folder of its own: INBOX/<stem>/<file>, by rename through a hidden holding folder
(`.packager-wrap-<file>`) so that a crash between the two renames is finished at the next
start (`recover_wraps`), and never over an existing case of the same name (`free_name`).

Before serving, `check_folders` makes sure claims can work at all: INBOX writable, the two
folders apart, and on one filesystem (a claim is one atomic rename; probed with a real one).
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from packager.atomic import fsync_dir
from packager.errors import WatchError
from packager.journal import WORK_DIR, CrashHook, free_name
from packager.stability import is_junk

WRAP_PREFIX = ".packager-wrap-"
PROBE_PREFIX = ".packager-probe-"
OWN_PREFIXES = (WRAP_PREFIX, PROBE_PREFIX)  # INBOX names packager itself makes: never cases


def is_ours(name: str) -> bool:
    return name.startswith(OWN_PREFIXES)


@dataclass(frozen=True)
class Entry:
    """What one top-level INBOX entry is, for the scheduler."""

    kind: Literal["folder", "file", "gone", "unreadable", "ignored", "left"]
    reason: str = ""  # unreadable/left: one line for the log (ignored entries are not reported)


def triage(inbox: Path, name: str) -> Entry:
    """A case folder, a loose file, or something to leave alone (junk, our own, a link, a device …)."""
    try:
        st = os.lstat(inbox / name)
    except FileNotFoundError:
        return Entry("gone")
    except OSError as e:
        return Entry("unreadable", f"cannot stat: {e.strerror}")
    if is_junk(name) or is_ours(name):
        return Entry("ignored")
    if stat.S_ISLNK(st.st_mode):
        return Entry("left", "symbolic link: never followed, left in place")
    if stat.S_ISREG(st.st_mode):
        return Entry("file")
    if not stat.S_ISDIR(st.st_mode):
        return Entry("left", "neither a folder nor a regular file: left in place")
    return Entry("folder")


def check_folders(inbox: Path, outbox: Path) -> tuple[Path, Path]:
    """The resolved (INBOX, OUTBOX), with OUTBOX/.work made; WatchError when they cannot serve."""
    if not inbox.is_dir():
        raise WatchError(f"{inbox}: INBOX is not a folder; create it or give the folder the scanner writes to")
    in_r, out_r = inbox.resolve(), outbox.resolve()
    if in_r == out_r or out_r.is_relative_to(in_r) or in_r.is_relative_to(out_r):
        raise WatchError(
            f"{outbox}: OUTBOX and INBOX must not contain each other (results would be taken for new cases); "
            "use two sibling folders"
        )
    if not os.access(in_r, os.W_OK | os.X_OK):
        raise WatchError(f"{inbox}: INBOX is not writable by this user; cases are claimed by moving them out of it")
    try:
        (out_r / WORK_DIR).mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise WatchError(f"{outbox}: cannot create the work area: {e.strerror}") from e
    # Claims are atomic renames: INBOX and OUTBOX must be on one filesystem (not just one disk).
    probe = in_r / f"{PROBE_PREFIX}{os.getpid()}"
    target = out_r / WORK_DIR / probe.name
    try:
        probe.mkdir(exist_ok=True)
        os.rename(probe, target)
        target.rmdir()
    except OSError as e:
        with contextlib.suppress(OSError):
            probe.rmdir()
        if e.errno == errno.EXDEV:
            raise WatchError(
                f"{outbox}: OUTBOX is on another filesystem than {inbox}; put both on the same one "
                "(cases are claimed by an atomic rename)"
            ) from e
        raise WatchError(f"{inbox}: cannot move folders from INBOX to OUTBOX: {e.strerror}") from e
    return in_r, out_r


def remove_probes(inbox: Path) -> None:
    """Probe folders a killed start left behind."""
    with contextlib.suppress(OSError):
        for probe in inbox.glob(PROBE_PREFIX + "*"):
            probe.rmdir()


class LooseFiles:
    """Wraps loose files of one INBOX into case folders; crash points injected for the tests."""

    def __init__(self, inbox: Path, *, crash_at: CrashHook | None = None) -> None:
        self.inbox = inbox
        self._crash_at = crash_at or (lambda _point: None)

    def wrap(self, name: str) -> str | None:
        """Move the loose file INBOX/<name> into a new case folder INBOX/<stem>/; returns the case name."""
        src = self.inbox / name
        hold = self.inbox / (WRAP_PREFIX + name)
        with contextlib.suppress(FileExistsError):
            hold.mkdir()
        self._crash_at("wrap.mkdir")
        try:
            _rename(src, hold / name)
        except FileNotFoundError:
            with contextlib.suppress(OSError):
                hold.rmdir()
            return None
        self._crash_at("wrap.moved")
        return self._unhold(hold)

    def _unhold(self, hold: Path) -> str:
        original = hold.name[len(WRAP_PREFIX):]
        stem = Path(original).stem or original
        name = free_name(self.inbox, stem)
        _rename(hold, self.inbox / name)
        return name

    def recover(self) -> list[str]:
        """Finish wraps a crash interrupted; returns the case names created."""
        made: list[str] = []
        for hold in sorted(self.inbox.glob(WRAP_PREFIX + "*")):
            if hold.is_symlink() or not hold.is_dir():
                continue
            if any(hold.iterdir()):
                made.append(self._unhold(hold))
            else:
                with contextlib.suppress(OSError):
                    hold.rmdir()
        return made


def _rename(src: Path, dst: Path) -> None:
    os.rename(src, dst)
    fsync_dir(dst.parent)
    if src.parent != dst.parent:
        fsync_dir(src.parent)

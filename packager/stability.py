"""Which entries of a drop folder are junk, and when a case has stopped changing.

Two small parts of the watcher, both free of threads and of the real clock so they can be
tested exactly (paperless-ngx's consumer has the same split: a filter of ignored names,
and a tracker that waits until size and mtime stop moving):

* the junk filter: OS and scanner litter that is never an input of a case (and the names of
  the control files beside a case: READY, receipt.txt, reason.txt);
* `snapshot_case` + `StabilityTracker`: a case is settled when its snapshot (file list,
  sizes, mtimes) has not changed, and no event arrived for it, for `settle_seconds`
  measured on an injected clock.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Literal

# Created by browsing a folder (Finder, Explorer, a NAS indexer), not by whoever fills the
# case: never an input, and touching them must not hold a case back from settling.
OS_METADATA = frozenset(
    {".ds_store", "thumbs.db", "ehthumbs.db", "desktop.ini", "@eadir", "__macosx", ".spotlight-v100",
     ".trashes", ".fseventsd", "$recycle.bin", "#recycle"}
)
# Written while something is still in progress (Office lock files, browser and curl partial
# downloads, rsync's hidden temporaries): never an input, but a change to them does count
# as activity, so a case with a download in progress does not settle under it.
_PARTIAL_SUFFIXES = (".tmp", ".part", ".crdownload", ".partial", ".download")
READY_NAMES = frozenset({"ready", "ready.txt"})
# Files packager and staff put beside a case that are never its inputs (one owner for the names):
RECEIPT_FILE = "receipt.txt"  # OUTBOX/<case>/: the receipt number, written by staff (packager.receipts)
REASON_FILE = "reason.txt"  # OUTBOX/_failed/<case>/: why it failed (packager.journal)
OWN_REASON_FILE = "reason-packager.txt"  # … when the case brought a reason.txt of its own

EntryKind = Literal["file", "dir", "link", "other"]


def is_os_metadata(name: str) -> bool:
    return name.lower() in OS_METADATA


def is_junk(name: str) -> bool:
    """True for one path component that is never an input: OS metadata, hidden, lock or partial files."""
    low = name.lower()
    return low in OS_METADATA or name.startswith(".") or name.startswith("~$") or low.endswith(_PARTIAL_SUFFIXES)


def is_junk_path(rel: str | PurePosixPath) -> bool:
    """True when any component of a path relative to a case (or to INBOX) is junk."""
    return any(is_junk(part) for part in PurePosixPath(rel).parts)


def is_ready_marker(name: str) -> bool:
    """`READY` (any case, optionally `.txt` as Notepad saves it) says the case is complete."""
    return name.lower() in READY_NAMES


@dataclass(frozen=True)
class EntryState:
    path: str  # relative to the case folder, POSIX separators
    kind: EntryKind
    size_bytes: int  # 0 for folders
    mtime_ns: int  # 0 for folders: their mtime only repeats what the file list already says


@dataclass(frozen=True)
class CaseSnapshot:
    """What a case folder holds right now; equal snapshots mean nothing changed."""

    entries: frozenset[EntryState]  # every entry except OS metadata (junk included: it is activity)
    has_ready: bool  # a READY marker at the top of the case
    content_count: int  # entries that could be inputs: neither junk nor the READY marker nor folders


def _kind(entry: os.DirEntry[str]) -> EntryKind:
    if entry.is_symlink():
        return "link"
    if entry.is_dir(follow_symlinks=False):
        return "dir"
    if entry.is_file(follow_symlinks=False):
        return "file"
    return "other"


def snapshot_case(case_dir: Path) -> CaseSnapshot:
    """Walk a case folder without following symlinks; vanished or unreadable entries are skipped."""
    entries: set[EntryState] = set()
    has_ready = False
    content = 0
    stack: list[tuple[Path, str]] = [(case_dir, "")]
    while stack:
        folder, prefix = stack.pop()
        try:
            with os.scandir(folder) as it:
                listing = list(it)
        except OSError:
            continue  # removed or unreadable meanwhile: the next snapshot will differ anyway
        for entry in listing:
            if is_os_metadata(entry.name):
                continue
            rel = prefix + entry.name
            try:
                kind = _kind(entry)
                st = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            if kind == "dir":
                entries.add(EntryState(rel, kind, 0, 0))
                stack.append((Path(entry.path), rel + "/"))
                continue
            entries.add(EntryState(rel, kind, st.st_size, st.st_mtime_ns))
            if not prefix and is_ready_marker(entry.name):
                has_ready = True
            elif not is_junk_path(rel):
                content += 1
    return CaseSnapshot(frozenset(entries), has_ready, content)


def snapshot_file(path: Path) -> CaseSnapshot | None:
    """The snapshot of one loose file (None when it is gone or not a regular file)."""
    try:
        st = path.lstat()
    except OSError:
        return None
    if not os.path.isfile(path) or os.path.islink(path):
        return None
    entry = EntryState(path.name, "file", st.st_size, st.st_mtime_ns)
    return CaseSnapshot(frozenset({entry}), False, 1)


@dataclass
class _Track:
    signature: Hashable | None
    since: float  # clock time of the last change or event


class StabilityTracker:
    """Per key: how long its signature has stayed the same, with no event, on an injected clock.

    Thread-confined: the watcher's scheduler thread is the only caller (watchdog handlers only
    enqueue, they never touch this).
    """

    def __init__(self, settle_seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        if settle_seconds < 0:
            raise ValueError("settle_seconds must be ≥ 0")
        self.settle_seconds = settle_seconds
        self._clock = clock
        self._tracks: dict[str, _Track] = {}

    def observe(self, key: str, signature: Hashable) -> bool:
        """Record the current signature; True when the key is settled (unchanged long enough)."""
        now = self._clock()
        track = self._tracks.get(key)
        if track is None:
            self._tracks[key] = _Track(signature, now)
        elif track.signature != signature:
            track.signature = signature
            track.since = now
        return self.is_settled(key)

    def touch(self, key: str) -> None:
        """Something happened to the key (a file event): restart its settle time."""
        track = self._tracks.get(key)
        if track is None:
            self._tracks[key] = _Track(None, self._clock())
        else:
            track.since = self._clock()

    def is_settled(self, key: str) -> bool:
        track = self._tracks.get(key)
        if track is None or track.signature is None:
            return False
        return self._clock() - track.since >= self.settle_seconds

    def stable_for(self, key: str) -> float:
        track = self._tracks.get(key)
        return 0.0 if track is None else max(0.0, self._clock() - track.since)

    def forget(self, key: str) -> None:
        self._tracks.pop(key, None)

    def __contains__(self, key: object) -> bool:
        return key in self._tracks

    def keys(self) -> list[str]:
        return list(self._tracks)

"""A new case from the browser: files (and case fields) into INBOX/<case>/ with READY.

Everything is written into a hidden folder in INBOX (`.packager-desk-…`, which the watcher
ignores), each file fsync'd as sent, then case.toml (checked by the library's own parser and
eligibility rule before anything reaches the watcher), then READY; one rename makes the case
appear whole. A name already in INBOX gets `-2`, `-3`…; nothing is ever overwritten.

Names from the browser are untrusted: a folder upload sends `folder/sub/scan.pdf`. Each path
component is kept readable (Japanese stays) but `..`, separators, control characters and
characters Windows shares refuse are replaced; hidden names and OS litter are skipped, as the
watcher would skip them.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import re
import secrets
import shutil
import time
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from packager.atomic import fsync_dir
from packager.errors import PackagerError

TEMP_PREFIX = ".packager-desk-"
READY = "READY"
CASE_TOML = "case.toml"
MAX_COMPONENT_CHARS = 100
STALE_TEMP_SECONDS = 3600
_UNSAFE = re.compile(r'[\x00-\x1f\x7f<>:"|?*\\/]')
_LITTER = frozenset({"thumbs.db", "desktop.ini", "__macosx", "@eadir", "ready", "ready.txt"})


class NewCaseRefused(PackagerError):
    """The new case was not written (nothing changed in INBOX); the message says why."""


@dataclass(frozen=True)
class CaseFields:
    """The case.toml fields a person may fill in the form ("" = not given)."""

    application: str = ""
    status: str = ""
    current_status: str = ""
    applicant_name: str = ""
    nationality: str = ""
    birth_date: dt.date | None = None
    residence_card_number: str = ""
    bureau: str = ""
    sender: str = ""
    date: dt.date | None = None  # printed on the declaration

    def is_empty(self) -> bool:
        return not any(getattr(self, f) for f in self.__dataclass_fields__)


@dataclass(frozen=True)
class WrittenFile:
    path: str  # relative to the case folder
    bytes_: int
    sha256: str


@dataclass(frozen=True)
class NewCase:
    name: str  # INBOX/<name>
    files: tuple[WrittenFile, ...]
    skipped: tuple[str, ...]  # junk names not written

    @property
    def bytes_(self) -> int:
        return sum(f.bytes_ for f in self.files)


def sanitise_component(text: str) -> str:
    """One safe path component for `text` ("" when nothing usable is left)."""
    name = unicodedata.normalize("NFC", text)
    name = "".join("_" if unicodedata.category(c) in ("Cc", "Cf", "Cs", "Co", "Cn") else c for c in name)
    name = _UNSAFE.sub("_", name).strip().rstrip(".")
    if name in ("", ".", ".."):
        return ""
    if len(name) > MAX_COMPONENT_CHARS:
        _stem, dot, ext = name.rpartition(".")
        keep = ext if dot and len(ext) <= 8 else ""
        name = name[: MAX_COMPONENT_CHARS - len(keep) - 1].rstrip() + ("." + keep if keep else "")
    return name


def is_litter(component: str) -> bool:
    """Hidden names and OS litter, as the watcher's filter sees them; READY is the desk's to write."""
    return component.startswith((".", "~$")) or component.lower() in _LITTER


def upload_path(filename: str) -> PurePosixPath | None:
    """The relative path to write an uploaded `filename` at; None for litter (skipped)."""
    raw = [p for p in re.split(r"[/\\]", filename) if p not in ("", ".", "..")]  # `..` never climbs
    if any(is_litter(p) for p in raw):
        return None
    parts = [sanitise_component(p) for p in raw]
    parts = [p for p in parts if p]
    return PurePosixPath(*parts) if parts else PurePosixPath("file")


def strip_common_folder(paths: list[PurePosixPath]) -> tuple[str, list[PurePosixPath]]:
    """A picked folder arrives as `folder/…` on every file: drop it, and offer it as the case name."""
    if paths and all(len(p.parts) > 1 for p in paths):
        first = {p.parts[0] for p in paths}
        if len(first) == 1:
            return next(iter(first)), [PurePosixPath(*p.parts[1:]) for p in paths]
    return "", paths


def _toml_string(text: str) -> str:
    # A JSON string is a TOML basic string (same escapes; non-ASCII may stay as it is), except that
    # TOML also forbids a raw DEL, which JSON leaves alone (found by hypothesis).
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007F")


def case_toml(fields: CaseFields) -> str:
    top = [("application", fields.application), ("status", fields.status),
           ("current_status", fields.current_status), ("bureau", fields.bureau), ("sender", fields.sender)]
    lines = ["# Written by packager desk from the new-case form."]
    lines += [f"{k} = {_toml_string(v)}" for k, v in top if v]
    if fields.date:
        lines.append(f"date = {fields.date.isoformat()}")
    applicant = [("name", fields.applicant_name), ("nationality", fields.nationality),
                 ("residence_card_number", fields.residence_card_number)]
    if any(v for _, v in applicant) or fields.birth_date:
        lines += ["", "[applicant]"]
        lines += [f"{k} = {_toml_string(v)}" for k, v in applicant if v]
        if fields.birth_date:
            lines.append(f"birth_date = {fields.birth_date.isoformat()}")
    return "\n".join(lines) + "\n"


def validate_case_toml(folder: Path) -> None:
    """The library's own reading of case.toml and its online-eligibility rule (ProfileError, NotEligibleOnline)."""
    from packager.eligibility import check_eligibility
    from packager.intake import read_case_info

    check_eligibility(read_case_info(folder))


def _free_name(inbox: Path, name: str) -> str:
    if not os.path.lexists(inbox / name):
        return name
    n = 2
    while os.path.lexists(inbox / f"{name}-{n}"):
        n += 1
    return f"{name}-{n}"


def _write_one(folder: Path, rel: PurePosixPath, source: BinaryIO) -> WrittenFile:
    dest = folder / rel
    dest.parent.mkdir(parents=True, exist_ok=True)
    h = hashlib.sha256()
    size = 0
    # O_EXCL: two uploads with one sanitised name must not overwrite each other (caller renames).
    fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    with os.fdopen(fd, "wb") as f:
        while chunk := source.read(1 << 20):
            f.write(chunk)
            h.update(chunk)
            size += len(chunk)
        f.flush()
        os.fsync(f.fileno())
    return WrittenFile(rel.as_posix(), size, h.hexdigest())


def _unique(rel: PurePosixPath, taken: set[str]) -> PurePosixPath:
    candidate, n = rel, 2
    while candidate.as_posix().lower() in taken:
        candidate = rel.with_name(f"{rel.stem}-{n}{rel.suffix}")
        n += 1
    taken.add(candidate.as_posix().lower())
    return candidate


def write_case(
    inbox: Path, name: str, fields: CaseFields, uploads: Iterable[tuple[str, BinaryIO]]
) -> NewCase:
    """Write the uploads (browser file name, stream) as INBOX/<name>/ with READY; returns what was written."""
    named = [(upload_path(filename), filename, stream) for filename, stream in uploads]
    kept = [(rel, stream) for rel, _, stream in named if rel is not None]
    skipped = tuple(filename for rel, filename, _ in named if rel is None)
    if not kept:
        raise NewCaseRefused("no files to package (hidden files and OS litter are left out): add the scans")
    folder_name, paths = strip_common_folder([rel for rel, _ in kept])
    case_name = sanitise_component(name) or sanitise_component(folder_name) or sanitise_component(
        fields.applicant_name
    )
    if not case_name or is_litter(case_name):
        case_name = "case-" + dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    has_toml = any(p.as_posix().lower() == CASE_TOML for p in paths)
    if has_toml and not fields.is_empty():
        raise NewCaseRefused("case.toml was uploaded and the case fields were filled: use one or the other")

    temp = inbox / f"{TEMP_PREFIX}{secrets.token_hex(8)}"
    temp.mkdir(mode=0o755)
    try:
        taken: set[str] = set()
        written = [_write_one(temp, _unique(rel, taken), stream)
                   for rel, (_, stream) in zip(paths, kept, strict=True)]
        if not fields.is_empty():
            (temp / CASE_TOML).write_text(case_toml(fields), encoding="utf-8")
        if has_toml or not fields.is_empty():
            validate_case_toml(temp)
        ready = temp / READY
        ready.write_bytes(b"")
        for folder in {temp, *(temp / w.path for w in written)}:
            fsync_dir(folder if folder == temp else folder.parent)
        final = _free_name(inbox, case_name)
        os.rename(temp, inbox / final)
        fsync_dir(inbox)
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise
    return NewCase(final, tuple(written), skipped)


def remove_stale_temporaries(inbox: Path, now: float | None = None) -> int:
    """Folders a crashed desk left mid-upload (our own prefix only, older than an hour)."""
    count = 0
    now = time.time() if now is None else now
    with contextlib.suppress(OSError):
        for entry in os.scandir(inbox):
            if entry.name.startswith(TEMP_PREFIX) and entry.is_dir(follow_symlinks=False):
                with contextlib.suppress(OSError):
                    if now - entry.stat(follow_symlinks=False).st_mtime > STALE_TEMP_SECONDS:
                        shutil.rmtree(entry.path)
                        count += 1
    return count

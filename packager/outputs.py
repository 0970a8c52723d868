"""Outputs: the layout of OUT, atomic writes into it, its measure on disk, manifest.json last.

This module owns every path inside OUT (upload/, mail/, the manifest, the pristine copies).

The manifest's presence means the build is complete: an earlier manifest is removed
before anything is rewritten, and files a previous build wrote that this one did not
are removed after the new ones are in place (only files packager itself listed).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import BinaryIO

from packager.atomic import (
    TEMP_PREFIX,
    AtomicBatch,
    atomic_open,
    atomic_write_bytes,
    atomic_write_text,
    remove_stale_temporaries,
)
from packager.errors import OutputError
from packager.result import BuildRecord, OutputRecord, PageRecord, manifest_json

MANIFEST = "manifest.json"
UPLOAD = "upload"
MAIL = "mail"
STATE = ".packager"
PRISTINE = f"{STATE}/pristine"  # untouched copies of mailed documents, for `stamp`
SPOOL = f"{STATE}/spool"  # one-page PDFs of a build in progress
COVER_DOCUMENT = "cover-sheet"  # document key of the cover sheet in OUT/mail
COVER_SHEET = f"{MAIL}/00-cover-sheet.pdf"
DECLARATION_DOCUMENT = "declaration"
DECLARATION = f"{UPLOAD}/00-declaration.pdf"


# What packager wrote into OUT and no manifest lists yet: a build that stopped half-way still
# knows its own files on the next run (the old manifest is withdrawn when a build starts).
LEDGER = f"{STATE}/written.txt"


def prepare_out_dir(out_dir: Path, case_dir: Path) -> list[str]:
    """Check OUT, withdraw its old manifest; returns the paths packager wrote there before.

    OUT/upload is what the applicant uploads, all of it: a file packager did not write there
    (a stray copy, a file from another case) would be uploaded too and count against the
    limit. It stops the build before any work, named, and is never deleted."""
    out = out_dir.resolve()
    case = case_dir.resolve()
    if out == case or case in out.parents:
        raise OutputError(f"{out_dir}: the output folder must not be inside the case folder {case_dir}")
    try:
        (out / UPLOAD).mkdir(parents=True, exist_ok=True)
        for sub in (UPLOAD, MAIL, STATE):
            if (out / sub).is_dir():
                remove_stale_temporaries(out / sub)
    except OSError as e:
        raise OutputError(f"{out_dir}: cannot create the output folder ({e.strerror})") from e
    known = known_outputs(out)
    foreign = foreign_uploads(out, known)
    if foreign:
        names = ", ".join(foreign[:10]) + (f" and {len(foreign) - 10} more" if len(foreign) > 10 else "")
        raise OutputError(
            f"{out_dir / UPLOAD}: holds {'a file' if len(foreign) == 1 else f'{len(foreign)} files'} packager did not "
            f"write ({names}): everything in upload/ is uploaded and counts against the limit. Move "
            f"{'it' if len(foreign) == 1 else 'them'} elsewhere and build again (packager never deletes them)"
        )
    try:
        _write_ledger(out, sorted(known))
        (out / MANIFEST).unlink(missing_ok=True)
    except OSError as e:
        raise OutputError(f"{out_dir}: cannot be written ({e.strerror})") from e
    return sorted(known)


def known_outputs(out_dir: Path) -> set[str]:
    """Paths (relative to OUT) that packager wrote: the manifest's outputs and pristine copies,
    and the ledger of a build that stopped before its manifest."""
    known: set[str] = set()
    manifest = out_dir / MANIFEST
    if manifest.is_file():
        with contextlib.suppress(OSError, ValueError, KeyError, TypeError, AttributeError):
            data = json.loads(manifest.read_text("utf-8"))
            for o in data.get("outputs", []):
                known.add(o["path"])
                if o.get("pristine"):
                    known.add(o["pristine"])
    with contextlib.suppress(OSError, UnicodeDecodeError):
        known.update(line for line in (out_dir / LEDGER).read_text("utf-8").splitlines() if line)
    return {k for k in known if isinstance(k, str)}


def foreign_uploads(out_dir: Path, known: set[str]) -> list[str]:
    """Names in OUT/upload that packager did not write (hidden files are never uploaded)."""
    folder = out_dir / UPLOAD
    if not folder.is_dir():
        return []
    return sorted(
        p.name for p in folder.iterdir()
        if not p.name.startswith(".") and f"{UPLOAD}/{p.name}" not in known
    )  # fmt: skip


def _write_ledger(out_dir: Path, paths: Sequence[str]) -> None:
    if not paths and not (out_dir / LEDGER).exists():
        return
    atomic_write_text(out_dir / LEDGER, "".join(f"{p}\n" for p in paths))


def _note_written(out_dir: Path, rel_path: str) -> None:
    ledger = out_dir / LEDGER
    ledger.parent.mkdir(parents=True, exist_ok=True)
    with ledger.open("a", encoding="utf-8") as f:
        f.write(rel_path + "\n")


def prune_empty(out_dir: Path) -> None:
    """Remove OUT's mail/ and .packager/ folders when nothing is in them (nothing mailed)."""
    for sub in (f"{STATE}/pristine", f"{STATE}/spool", STATE, MAIL):
        with contextlib.suppress(OSError):
            (out_dir / sub).rmdir()  # only when empty


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def write_output(
    out_dir: Path,
    rel_path: str,
    writer: Callable[[BinaryIO], object] | bytes,
    *,
    destination: str,
    document: str,
    title: str,
    pages: Sequence[PageRecord] = (),
    name_ja: str | None = None,
    name_en: str | None = None,
    pristine: str | None = None,
    reason: str | None = None,
    batch: AtomicBatch | None = None,
) -> OutputRecord:
    """Write one output atomically and describe it as it is on disk. With a `batch`, it is in
    place when the batch commits (several outputs made durable together, see AtomicBatch), and
    its record's sha256 comes from the batch then (with_digests)."""
    path = out_dir / rel_path
    try:
        _note_written(out_dir, rel_path)
        with atomic_open(path) if batch is None else batch.open(path) as f:
            if isinstance(writer, bytes):
                f.write(writer)
            else:
                writer(f)
    except OSError as e:
        raise OutputError(f"{path}: cannot be written ({e.strerror})") from e
    written = path if batch is None else batch.temporary_of(path)
    return OutputRecord(
        path=rel_path,
        destination=destination,
        document=document,
        title=title,
        bytes_=written.stat().st_size,
        sha256=sha256_file(written) if batch is None else "",  # the batch's, once committed (with_digests)
        pages=tuple(pages),
        name_ja=name_ja,
        name_en=name_en,
        pristine=pristine,
        reason=reason,
    )


@contextlib.contextmanager
def written_together(out_dir: Path) -> Iterator[AtomicBatch]:
    """A batch for write_output: its outputs are in place, durable, at the end of the block."""
    try:
        with AtomicBatch() as batch:
            yield batch
    except OSError as e:
        raise OutputError(f"{out_dir}: cannot be written ({e.strerror})") from e


def with_digests(out_dir: Path, records: Sequence[OutputRecord], batch: AtomicBatch) -> tuple[OutputRecord, ...]:
    """Records of outputs a batch wrote (write_output(batch=...)), with their files' SHA-256:
    the batch takes them beside the writing, and has them once committed."""
    return tuple(replace(r, sha256=batch.sha256(out_dir / r.path)) for r in records)


def link_pristine(out_dir: Path, rel_path: str, pristine_rel: str) -> None:
    """Keep an untouched copy of a mailed document for `stamp`, as a hard link.

    A hard link costs no space, and stays pristine: stamping replaces the mailed file by a
    new one (atomic rename), which never writes through the link. Where links are not
    possible (some network shares) the bytes are copied.
    """
    src, dst = out_dir / rel_path, out_dir / pristine_rel
    dst.parent.mkdir(parents=True, exist_ok=True)
    _note_written(out_dir, pristine_rel)
    tmp = dst.with_name(f"{TEMP_PREFIX}{dst.name}")
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    try:
        os.link(src, tmp)
    except OSError:
        atomic_write_bytes(dst, src.read_bytes())
        return
    os.replace(tmp, dst)


def upload_bytes_on_disk(out_dir: Path) -> int:
    """The measured total of OUT/upload: what the applicant will actually upload."""
    return sum(p.stat().st_size for p in (out_dir / UPLOAD).iterdir() if p.is_file() and not p.name.startswith("."))


def remove_stale(out_dir: Path, old_paths: Sequence[str], new_paths: Sequence[str]) -> None:
    keep = set(new_paths)
    for rel in old_paths:
        if rel in keep or ".." in Path(rel).parts or Path(rel).is_absolute():
            continue
        with contextlib.suppress(OSError):
            (out_dir / rel).unlink()


def write_manifest(out_dir: Path, record: BuildRecord) -> Path:
    """manifest.json, last: its presence means the build is complete."""
    path = out_dir / MANIFEST
    text = json.dumps(manifest_json(record), ensure_ascii=False, indent=2, sort_keys=False) + "\n"
    atomic_write_text(path, text)
    (out_dir / LEDGER).unlink(missing_ok=True)  # the manifest lists them all now
    prune_empty(out_dir)
    return path

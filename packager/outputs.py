"""Outputs: write OUT atomically, measure it on disk, and write manifest.json last.

The manifest's presence means the build is complete: an earlier manifest is removed
before anything is rewritten, and files a previous build wrote that this one did not
are removed after the new ones are in place (only files packager itself listed).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any, BinaryIO

from packager import __version__
from packager.atomic import (
    TEMP_PREFIX,
    atomic_open,
    atomic_write_bytes,
    atomic_write_text,
    remove_stale_temporaries,
)
from packager.errors import OutputError
from packager.model import CaseInfo, InputFile, OutputFile, OutputPage, Rejection

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


def prepare_out_dir(out_dir: Path, case_dir: Path) -> list[str]:
    """Check OUT, withdraw its old manifest; returns the paths the old manifest listed."""
    out = out_dir.resolve()
    case = case_dir.resolve()
    if out == case or case in out.parents:
        raise OutputError(f"{out_dir}: the output folder must not be inside the case folder {case_dir}")
    try:
        out.mkdir(parents=True, exist_ok=True)
        for sub in (UPLOAD, MAIL, STATE):
            (out / sub).mkdir(exist_ok=True)
            remove_stale_temporaries(out / sub)
    except OSError as e:
        raise OutputError(f"{out_dir}: cannot create the output folder ({e.strerror})") from e
    old: list[str] = []
    manifest = out / MANIFEST
    if manifest.is_file():
        with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
            data = json.loads(manifest.read_text("utf-8"))
            old = [o["path"] for o in data.get("outputs", [])] + [
                o["pristine"] for o in data.get("outputs", []) if o.get("pristine")
            ]
        manifest.unlink()
    return old


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
    pages: Sequence[OutputPage] = (),
) -> OutputFile:
    """Write one output atomically and describe it as it is on disk."""
    path = out_dir / rel_path
    try:
        if isinstance(writer, bytes):
            atomic_write_bytes(path, writer)
        else:
            with atomic_open(path) as f:
                writer(f)
    except OSError as e:
        raise OutputError(f"{path}: cannot be written ({e.strerror})") from e
    return OutputFile(
        path=rel_path,
        destination=destination,  # type: ignore[arg-type]
        document=document,
        title=title,
        bytes_=path.stat().st_size,
        sha256=sha256_file(path),
        pages=tuple(pages),
    )


def link_pristine(out_dir: Path, rel_path: str, pristine_rel: str) -> None:
    """Keep an untouched copy of a mailed document for `stamp`, as a hard link.

    A hard link costs no space, and stays pristine: stamping replaces the mailed file by a
    new one (atomic rename), which never writes through the link. Where links are not
    possible (some network shares) the bytes are copied.
    """
    src, dst = out_dir / rel_path, out_dir / pristine_rel
    dst.parent.mkdir(parents=True, exist_ok=True)
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


def _output_json(o: OutputFile, extra: dict[str, Any]) -> dict[str, Any]:
    d: dict[str, Any] = {
        "path": o.path,
        "destination": o.destination,
        "document": o.document,
        "title": o.title,
        "bytes": o.bytes_,
        "sha256": o.sha256,
    }
    d.update(extra)
    d["pages"] = [
        {"source": p.source, "source_page": p.source_page, "encoding": p.encoding, "dpi": p.dpi, "bytes": p.bytes_}
        for p in o.pages
    ]
    return d


def build_manifest(
    *,
    profile: str,
    limit_bytes: int,
    upload_bytes: int,
    case: CaseInfo,
    inputs: Sequence[tuple[InputFile, str]],  # (input, status note) for accepted inputs
    rejections: Sequence[Rejection],
    ignored: Sequence[str],
    outputs: Sequence[tuple[OutputFile, dict[str, Any]]],
    mailed: Sequence[dict[str, Any]],
    dropped_pages: Sequence[dict[str, Any]],
    plan: dict[str, Any],
    checklist: dict[str, Any] | None,
    built_on: dt.date,
    warnings: Sequence[str] = (),
) -> dict[str, Any]:
    return {
        "packager_version": __version__,
        "profile": profile,
        "built_on": built_on.isoformat(),
        "limit_bytes": limit_bytes,
        "upload_bytes": upload_bytes,
        "fits": upload_bytes <= limit_bytes,
        "case": {
            "application": case.application,
            "status": case.status,
            "current_status": case.current_status,
            "applicant": asdict(case.applicant),
            "bureau": case.bureau,
            "sender": case.sender,
        },
        "inputs": [
            {
                "path": inp.path,
                "sha256": inp.sha256,
                "bytes": inp.bytes_,
                "format": inp.format,
                "pages": inp.page_count,
                "document": inp.document,
                "kind": inp.kind,
                "kind_from": inp.kind_from,
                "kind_evidence": inp.kind_evidence,
                "status": "accepted",
                "reason": note,
            }
            for inp, note in inputs
        ]
        + [{"path": r.path, "status": "rejected", "reason": r.reason} for r in rejections],
        "ignored": list(ignored),
        "outputs": [_output_json(o, extra) for o, extra in outputs],
        "mailed": list(mailed),
        "dropped_pages": list(dropped_pages),
        "plan": plan,
        "checklist": checklist,
        "stamp": None,
        "warnings": list(warnings),
    }


def write_manifest(out_dir: Path, manifest: dict[str, Any]) -> Path:
    path = out_dir / MANIFEST
    atomic_write_text(path, json.dumps(manifest, ensure_ascii=False, indent=2, sort_keys=False) + "\n")
    return path

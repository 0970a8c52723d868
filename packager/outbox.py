"""The read model of an OUTBOX (and of any OUT folder): what is there, in which state, and stamp.

Every face asks here instead of looking at files itself: the CLI (`packager stamp`, `cases`),
the watcher (which results have a receipt to stamp) and the desk in the browser.

    OUTBOX/<case>/manifest.json          built: ready, needs mailing, or stamped (manifest "stamp")
    OUTBOX/_failed/<case>/reason.txt     failed, with the reason (reason-packager.txt when the
                                         case brought its own reason.txt)
    OUTBOX/.work/<id>/journal.json       in progress: claimed, building, placing … (packager.journal);
                                         also what a crash mid-build leaves until the watcher resumes

A folder of OUTBOX without manifest.json is not a result (someone's own folder): not listed.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import shutil
from dataclasses import dataclass
from enum import StrEnum
from functools import partial
from pathlib import Path, PurePosixPath
from typing import Any

from packager import journal, outputs, receipts
from packager.atomic import atomic_open, atomic_write_bytes, atomic_write_text
from packager.errors import OutputError, PackagerError, StampError, first_line
from packager.intake import read_case_info
from packager.model import CaseInfo, DocumentSummary
from packager.result import BuildRecord, ManifestInvalid, case_from_json, parse_manifest
from packager.stability import OWN_REASON_FILE, REASON_FILE

# A failed case's reason: ours is reason-packager.txt when the case brought its own reason.txt.
REASON_FILES = (OWN_REASON_FILE, REASON_FILE)


class CaseState(StrEnum):
    IN_PROGRESS = "in-progress"  # claimed in OUTBOX/.work/<id>/ (journal: claiming … placing)
    READY = "ready"  # built, nothing to mail
    NEEDS_MAILING = "needs-mailing"  # built, something mailed, receipt not yet stamped
    STAMPED = "stamped"  # built, mailed documents stamped with the receipt number
    FAILED = "failed"  # OUTBOX/_failed/<case>/ with reason.txt


@dataclass(frozen=True)
class CaseEntry:
    """One case of an OUTBOX, as a list shows it."""

    key: str  # stable id for URLs: "<name>", "_failed/<name>" or ".work/<id>"
    name: str  # the case's display name (its INBOX folder name, or the result folder's)
    path: Path  # the result folder, _failed/<name>, or the work folder
    state: CaseState
    reason: str | None  # failed: first line of the reason file; built: why the manifest cannot be read
    applicant: str | None  # applicant name from the manifest (built) or case.toml (failed, in progress)
    application: str | None
    status: str | None
    upload_bytes: int | None
    limit_bytes: int | None
    receipt: str | None  # the receipt number the mailed set is stamped with
    updated: dt.datetime  # timezone-aware UTC; list_cases is newest first
    stage: str | None = None  # in progress: the journal's state (claimed, building, placing …)
    fits: bool | None = None  # built: the upload is within the limit
    mailed: int | None = None  # built: documents to mail
    rejected: int | None = None  # built: inputs rejected
    receipt_error: str | None = None  # built: the last stamping failure (receipt-error.txt)


# ---------------------------------------------------------------------------- listing


def list_cases(outbox: Path) -> list[CaseEntry]:
    """Every case of OUTBOX: results, _failed/ and the work area; newest first."""
    outbox = Path(outbox)
    entries = [*_results(outbox), *_failed(outbox), *_in_progress(outbox)]
    return sorted(entries, key=lambda e: (e.updated, e.key), reverse=True)


def find_case(outbox: Path, key: str) -> CaseEntry | None:
    """The case listed under `key`; a key is looked up, never joined onto a path."""
    return next((e for e in list_cases(outbox) if e.key == key), None)


def result_folders(outbox: Path) -> list[Path]:
    """OUTBOX/<case> folders holding a manifest.json (not _failed, the work area, hidden or links)."""
    return [p for p in _subfolders(outbox) if p.name not in journal.RESERVED_NAMES and _is_result(p)]


def _subfolders(folder: Path) -> list[Path]:
    try:
        entries = sorted(folder.iterdir())
    except OSError:
        return []
    return [p for p in entries if not p.name.startswith(".") and not p.is_symlink() and p.is_dir()]


def _is_result(folder: Path) -> bool:
    return (folder / outputs.MANIFEST).is_file()


def _mtime(*paths: Path) -> dt.datetime:
    for p in paths:
        with contextlib.suppress(OSError):
            return dt.datetime.fromtimestamp(p.stat().st_mtime, dt.UTC)
    return dt.datetime.fromtimestamp(0, dt.UTC)


def _results(outbox: Path) -> list[CaseEntry]:
    return [built_entry(p, p.name) for p in result_folders(outbox)]


def built_entry(out_dir: Path, key: str) -> CaseEntry:
    """The entry of one built OUT folder (its state from the manifest)."""
    manifest = out_dir / outputs.MANIFEST
    updated = _mtime(manifest, out_dir)
    try:
        record = read_result(out_dir)
    except OutputError as e:
        return CaseEntry(key, out_dir.name, out_dir, CaseState.READY, str(e), None, None, None, None, None, None,
                         updated)
    if record.stamp is not None:
        state = CaseState.STAMPED
    elif record.mailed_documents:
        state = CaseState.NEEDS_MAILING
    else:
        state = CaseState.READY
    return CaseEntry(
        key=key,
        name=out_dir.name,
        path=out_dir,
        state=state,
        reason=None,
        applicant=record.case.applicant.name or None,
        application=record.case.application or None,
        status=record.case.status or None,
        upload_bytes=record.upload_bytes,
        limit_bytes=record.limit_bytes,
        receipt=record.stamp.receipt if record.stamp else None,
        updated=updated,
        fits=record.fits,
        mailed=len(record.mailed_documents),
        rejected=len(record.rejected),
        receipt_error=receipts.receipt_error(out_dir),
    )


def _case_toml(case_dir: Path) -> CaseInfo | None:
    """case.toml of a failed or in-progress case, when it can be read (else None: it may be why it failed)."""
    try:
        return read_case_info(case_dir)
    except (PackagerError, OSError, UnicodeDecodeError):
        return None


def _failed(outbox: Path) -> list[CaseEntry]:
    entries = []
    for folder in _subfolders(outbox / journal.FAILED_DIR):
        reason_file = next((folder / n for n in REASON_FILES if (folder / n).is_file()), None)
        reason = _first_text_line(reason_file) if reason_file else None
        updated = _mtime(reason_file, folder) if reason_file else _mtime(folder)
        entries.append(_unbuilt_entry(f"{journal.FAILED_DIR}/{folder.name}", folder.name, folder, CaseState.FAILED,
                                      _case_toml(folder), updated, reason=reason))
    return entries


def _first_text_line(path: Path) -> str | None:
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").strip().splitlines()
    except OSError:
        return None
    return lines[0] if lines else None


def _in_progress(outbox: Path) -> list[CaseEntry]:
    entries = []
    for work in _subfolders(outbox / journal.WORK_DIR):
        record = journal.read_journal(work)
        if record is None and not os.path.lexists(work / journal.CASE_SUBDIR):
            continue  # not a claim (or one killed before it moved anything): nothing to show
        name = str((record or {}).get("case") or journal.case_name_of(work))
        stage = str((record or {}).get("state") or "claiming")
        case = _case_toml(work / journal.CASE_SUBDIR)
        entries.append(_unbuilt_entry(f"{journal.WORK_DIR}/{work.name}", name, work, CaseState.IN_PROGRESS, case,
                                      _mtime(work / journal.JOURNAL_NAME, work), stage=stage))
    return entries


def _unbuilt_entry(key: str, name: str, path: Path, state: CaseState, case: CaseInfo | None, updated: dt.datetime,
                   *, reason: str | None = None, stage: str | None = None) -> CaseEntry:
    return CaseEntry(
        key=key,
        name=name,
        path=path,
        state=state,
        reason=reason,
        applicant=(case.applicant.name or None) if case else None,
        application=(case.application or None) if case else None,
        status=(case.status or None) if case else None,
        upload_bytes=None,
        limit_bytes=None,
        receipt=None,
        updated=updated,
        stage=stage,
    )


# ---------------------------------------------------------------------------- one result


def read_result(out_dir: Path) -> BuildRecord:
    """OUT/manifest.json as records. OutputError (one line, naming the file) when it cannot be read."""
    path = Path(out_dir) / outputs.MANIFEST
    return _parse(path, _load_manifest(path, OutputError))


def _load_manifest(path: Path, error: type[PackagerError]) -> Any:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as e:
        raise error(f"{path.parent}: no {outputs.MANIFEST}: not a folder written by `packager build`") from e
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise error(f"{path}: cannot be read ({first_line(e)}): rebuild OUT with `packager build`") from e
    if not isinstance(data, dict):
        raise error(f"{path}: is not a packager manifest: rebuild OUT with `packager build`")
    return data


def _parse(path: Path, data: Any) -> BuildRecord:
    try:
        return parse_manifest(data)
    except ManifestInvalid as e:
        raise OutputError(f"{path}: {e}: rebuild OUT with `packager build`") from e


# ---------------------------------------------------------------------------- stamp


@dataclass(frozen=True)
class StampResult:
    """What `stamp` did. Paths are relative to OUT, POSIX separators."""

    receipt: str  # as printed (surrounding whitespace stripped)
    filing_date: dt.date | None
    cover_sheet: str  # the regenerated cover sheet
    files: tuple[str, ...]  # stamped mailed documents, in order
    pages: int  # pages stamped (cover sheet not counted)
    shrunk_pages: int  # pages scaled down to free the stamp band


def stamp(
    out_dir: Path,
    receipt: str,
    filing_date: dt.date | None = None,
    *,
    on_date: dt.date | None = None,
    texts_dir: Path | None = None,
) -> StampResult:
    """Stamp the mailed set in OUT with the application receipt number (`packager stamp`).

    Always from the pristine copies, so stamping again with a corrected number leaves only the
    new one; the cover sheet is made again with the number; manifest.json records the stamp,
    last. `on_date` dates the cover sheet (today). Raises StampError for a bad number or OUT.
    """
    # reportlab and pdfium are loaded only when stamping: listing an OUTBOX stays light.
    from packager.forms import stamp as stamping
    from packager.forms.cover import render_cover_sheet
    from packager.forms.texts import load_stamp

    out_dir = Path(out_dir)
    number = stamping.check_receipt(receipt)
    cfg = load_stamp(texts_dir)
    manifest_path = out_dir / outputs.MANIFEST
    manifest = _load_manifest(manifest_path, StampError)
    case = case_from_json(manifest.get("case")).as_case_info()
    entries = manifest.get("outputs")
    if not isinstance(entries, list):
        raise StampError(f"{manifest_path}: has no list of outputs: rebuild OUT with `packager build`")
    mailed = sorted((o for o in entries if _is_mailed_document(o)), key=lambda o: str(o.get("path", "")))
    if not mailed:
        raise StampError(f"{out_dir}: nothing is mailed in this case, so there is nothing to stamp")
    already_stamped = manifest.get("stamp") is not None

    files: list[str] = []
    summaries: list[DocumentSummary] = []
    total_pages = shrunk_pages = 0
    for entry in mailed:
        rel = _relative(out_dir, entry.get("path"), "path")
        pristine = _pristine_of(out_dir, entry, rel, already_stamped)
        # Mailed documents are full-quality scans (150 MB for 60 pages is ordinary): the
        # stamped PDF streams into the temporary file, never into memory.
        line_for = partial(stamping.stamp_line, cfg, number, case.applicant.name)
        with atomic_open(out_dir / rel) as f:
            stamps = stamping.stamp_pdf(pristine, line_for, cfg, f)
        entry["bytes"], entry["sha256"] = _digest(out_dir / rel)
        files.append(rel)
        total_pages += len(stamps)
        shrunk_pages += sum(s.shrunk for s in stamps)
        summaries.append(DocumentSummary(
            key=str(entry.get("document", "")),
            name_ja=str(entry.get("name_ja") or entry.get("title") or entry.get("document", "")),
            name_en=str(entry.get("name_en", "")),
            pages=len(stamps),
            file_name=PurePosixPath(rel).name,
        ))

    cover_rel = _write_cover(out_dir, entries, render_cover_sheet(
        case, summaries, number, filing_date, on_date or dt.date.today(), texts_dir=texts_dir))
    manifest["stamp"] = {
        "receipt": number,
        "filing_date": filing_date.isoformat() if filing_date else None,
        "stamped_at_pages": total_pages,
        "shrunk_pages": shrunk_pages,
        "files": files,
    }
    atomic_write_text(manifest_path, json.dumps(manifest, ensure_ascii=False, indent=2) + "\n")
    return StampResult(number, filing_date, cover_rel, tuple(files), total_pages, shrunk_pages)


def _pristine_of(out_dir: Path, entry: dict[str, Any], rel: str, already_stamped: bool) -> Path:
    """The untouched copy of a mailed document (made now from the mailed file if a build kept none)."""
    target = out_dir / rel
    default = f"{outputs.PRISTINE}/{PurePosixPath(rel).name}"
    pristine = out_dir / _relative(out_dir, entry.get("pristine") or default, "pristine")
    if pristine.is_file():
        return pristine
    if already_stamped or not target.is_file():
        raise StampError(f"{pristine}: the pristine copy of {rel} is missing, so it cannot be restamped: rebuild OUT")
    # A build that kept no pristine copy: the mailed file is still unstamped, keep it.
    with target.open("rb") as src, atomic_open(pristine) as f:
        shutil.copyfileobj(src, f, 1 << 20)
    entry["pristine"] = pristine.relative_to(out_dir).as_posix()
    return pristine


def _write_cover(out_dir: Path, entries: list[Any], cover: bytes) -> str:
    """Replace the cover sheet (listing it in the manifest's outputs when it was not); returns its path."""
    entry = next((o for o in entries if isinstance(o, dict) and o.get("document") == outputs.COVER_DOCUMENT), None)
    if entry is None:
        entry = {"path": outputs.COVER_SHEET, "destination": outputs.MAIL, "document": outputs.COVER_DOCUMENT,
                 "title": "送付状"}
        entries.insert(0, entry)
    rel = _relative(out_dir, entry.get("path"), "path")
    atomic_write_bytes(out_dir / rel, cover)
    entry["bytes"], entry["sha256"] = _digest(out_dir / rel)
    return rel


def _is_mailed_document(entry: Any) -> bool:
    return (isinstance(entry, dict) and entry.get("destination") == outputs.MAIL
            and entry.get("document") != outputs.COVER_DOCUMENT)


def _relative(out_dir: Path, value: Any, key: str) -> str:
    """A manifest path, refused unless it stays inside OUT (the manifest is a user-editable file)."""
    if not isinstance(value, str) or not value:
        raise StampError(f"{out_dir / outputs.MANIFEST}: an output has no {key!r}: rebuild OUT")
    rel = PurePosixPath(value)
    if rel.is_absolute() or ".." in rel.parts:
        raise StampError(f"{out_dir / outputs.MANIFEST}: output {key} {value!r} points outside OUT")
    return rel.as_posix()


def _digest(path: Path) -> tuple[int, str]:
    return path.stat().st_size, outputs.sha256_file(path)

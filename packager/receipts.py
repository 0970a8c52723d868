"""Receipts dropped into a result folder: OUTBOX/<case>/receipt.txt → a stamped mailed set.

Staff write the application receipt number into `receipt.txt` beside a built case; the
watcher notices it and calls the library's stamp (packager.outbox.stamp, passed in as
`StampFn` so that this module stays below the read model). The outcome is recorded in
`.receipt-stamped.json` (the receipt file's digest: only a changed receipt restamps), and a
failure is also written for people to `receipt-error.txt`, which the read model shows.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packager.atomic import atomic_write_text
from packager.errors import PackagerError, first_line
from packager.stability import RECEIPT_FILE, StabilityTracker

RECEIPT_NAME = RECEIPT_FILE
RECEIPT_ERROR_NAME = "receipt-error.txt"
STAMP_RECORD = ".receipt-stamped.json"

# stamp(out_dir, receipt): the library call (packager.outbox.stamp); raises PackagerError.
StampFn = Callable[[Path, str], object]


@dataclass(frozen=True)
class ReceiptOutcome:
    case_out: Path
    ok: bool
    receipt: str  # the number as read ("" when the file could not be read)
    reason: str = ""  # one line, when not ok


class ReceiptQueue:
    """Which result folders have a receipt to stamp: noticed at a scan, due once the file settled.

    A receipt file is still being written while its size or mtime changes (the same stability
    rule as cases); one that was handled before with these very bytes is not due again.
    """

    def __init__(self, outbox: Path, tracker: StabilityTracker) -> None:
        self.outbox = outbox
        self._tracker = tracker
        self._pending: set[str] = set()  # result folder names with a receipt.txt to look at
        self._active: set[str] = set()  # being stamped now

    @property
    def waiting(self) -> bool:
        return bool(self._pending)

    def notice(self, case_out: Path) -> None:
        if has_receipt(case_out):
            self._pending.add(case_out.name)

    def due(self) -> list[tuple[Path, str]]:
        """(result folder, receipt digest) of each settled, new receipt; each marked active."""
        found: list[tuple[Path, str]] = []
        for name in sorted(self._pending):
            case_out = self.outbox / name
            state = receipt_state(case_out)
            if state is None and not has_receipt(case_out):
                self._pending.discard(name)
                self._tracker.forget(name)
                continue
            if state is None or name in self._active:
                continue  # not a regular file (left alone), or being stamped now
            if not self._tracker.observe(name, state):
                continue
            self._pending.discard(name)
            self._tracker.forget(name)
            digest = receipt_digest(case_out)
            if digest is None or already_handled(case_out, digest):
                continue
            self._active.add(name)
            found.append((case_out, digest))
        return found

    def finished(self, case_out: Path) -> None:
        self._active.discard(case_out.name)


def has_receipt(case_out: Path) -> bool:
    return os.path.lexists(case_out / RECEIPT_NAME)


def receipt_state(case_out: Path) -> tuple[int, int] | None:
    """(size, mtime_ns) of a regular receipt file, for the stability tracker; None otherwise."""
    try:
        st = os.lstat(case_out / RECEIPT_NAME)
    except OSError:
        return None
    return (st.st_size, st.st_mtime_ns) if stat.S_ISREG(st.st_mode) else None


def receipt_digest(case_out: Path) -> str | None:
    try:
        return hashlib.sha256((case_out / RECEIPT_NAME).read_bytes()).hexdigest()
    except OSError:
        return None


def already_handled(case_out: Path, digest: str) -> bool:
    """Done before (or failed before with this very receipt): only a change restamps."""
    return (read_stamp_record(case_out) or {}).get("receipt_sha256") == digest


def read_receipt(case_out: Path) -> str:
    """The receipt number: the first non-blank line of receipt.txt (a BOM is allowed)."""
    path = case_out / RECEIPT_NAME
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as e:
        raise PackagerError(f"{path}: cannot be read ({first_line(e)}); save it as UTF-8 text") from e
    for line in text.splitlines():
        if line.strip():
            return line.strip()
    raise PackagerError(f"{path}: empty; write the receipt number on one line")


def stamp_from_receipt(case_out: Path, digest: str, stamp: StampFn) -> ReceiptOutcome:
    """Read receipt.txt, stamp the case, and record the outcome; never raises for a bad receipt."""
    receipt = ""
    try:
        receipt = read_receipt(case_out)
        stamp(case_out, receipt)
    except PackagerError as e:
        return _failed(case_out, digest, receipt, str(e))
    except Exception as e:  # a bug must not stop the watcher: it is reported beside the receipt
        return _failed(case_out, digest, receipt, f"internal error: {type(e).__name__}: {e}")
    with contextlib.suppress(FileNotFoundError):
        (case_out / RECEIPT_ERROR_NAME).unlink()
    write_stamp_record(case_out, {"receipt_sha256": digest, "receipt": receipt, "ok": True,
                                  "stamped_at": dt.datetime.now().astimezone().isoformat(timespec="seconds")})
    return ReceiptOutcome(case_out, True, receipt)


def _failed(case_out: Path, digest: str, receipt: str, reason: str) -> ReceiptOutcome:
    reason = " ".join(reason.split())
    atomic_write_text(case_out / RECEIPT_ERROR_NAME, reason + "\n")
    write_stamp_record(case_out, {"receipt_sha256": digest, "ok": False, "reason": reason})
    return ReceiptOutcome(case_out, False, receipt, reason)


def receipt_error(case_out: Path) -> str | None:
    """The last stamping failure written beside the receipt, if any (first line)."""
    try:
        text = (case_out / RECEIPT_ERROR_NAME).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    return text.strip().splitlines()[0] if text.strip() else None


def read_stamp_record(case_out: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((case_out / STAMP_RECORD).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def write_stamp_record(case_out: Path, record: dict[str, Any]) -> None:
    atomic_write_text(case_out / STAMP_RECORD, json.dumps(record, ensure_ascii=False, sort_keys=True))

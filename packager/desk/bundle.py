"""Downloads made of several files: the upload set as one zip, the mail kit as one PDF.

Both are deterministic (same files → same bytes): fixed zip dates and modes, stored
entries in the manifest's order; the print kit saved with pikepdf's deterministic ID and
no dates. Both are written to a temporary file that is deleted once it has been sent. A file
whose bytes no longer match the manifest's sha256 is refused (`ChangedSinceBuild`): what is
downloaded is what was built and listed.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
import zipfile
from collections.abc import Sequence
from pathlib import Path, PurePosixPath
from typing import IO

import pikepdf

from packager.desk.files import open_below

ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # the earliest a zip can say: no build time in the bytes


class ChangedSinceBuild(Exception):
    """A listed file is missing or differs from its manifest digest."""


def _verified(case_dir: Path, rel: str, sha256: str, spool: IO[bytes]) -> None:
    """Copy case_dir/rel into `spool`, checking its digest."""
    try:
        fd = open_below(case_dir, rel)
    except FileNotFoundError as e:
        raise ChangedSinceBuild(f"{rel} is missing") from e
    h = hashlib.sha256()
    with os.fdopen(fd, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
            spool.write(chunk)
    if sha256 and h.hexdigest() != sha256:
        raise ChangedSinceBuild(f"{rel} changed since the build")


def write_zip(case_dir: Path, files: Sequence[tuple[str, str]], dest: IO[bytes]) -> None:
    """Zip (path, sha256) pairs by their base names, in the given order."""
    with zipfile.ZipFile(dest, "w", compression=zipfile.ZIP_STORED) as zf:
        for rel, sha256 in files:
            info = zipfile.ZipInfo(PurePosixPath(rel).name, date_time=ZIP_DATE)
            info.external_attr = 0o644 << 16
            info.create_system = 3  # unix, whatever the server runs on
            with tempfile.TemporaryFile() as spool:
                _verified(case_dir, rel, sha256, spool)
                spool.seek(0)
                with zf.open(info, "w") as entry:
                    while chunk := spool.read(1 << 20):
                        entry.write(chunk)


def write_print_kit(case_dir: Path, files: Sequence[tuple[str, str]], dest: IO[bytes]) -> int:
    """One PDF of the given PDFs' pages in order (cover sheet first); returns the page count."""
    with contextlib.ExitStack() as stack:
        kit = stack.enter_context(pikepdf.new())
        for rel, sha256 in files:
            spool = stack.enter_context(tempfile.TemporaryFile())
            _verified(case_dir, rel, sha256, spool)
            spool.seek(0)
            kit.pages.extend(stack.enter_context(pikepdf.open(spool)).pages)
        kit.save(dest, deterministic_id=True, compress_streams=True)
        return len(kit.pages)

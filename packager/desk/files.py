"""Open a file below a case folder without following a symbolic link, and stream it.

A path from a manifest is walked one component at a time with O_NOFOLLOW relative to the
folder opened before it (openat), so neither a link nor `..` can lead outside the case,
and what is streamed is the file that was checked (no second open by name).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from urllib.parse import quote

from starlette.responses import StreamingResponse

CHUNK = 1 << 20
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK  # NONBLOCK: a FIFO must not hang us


def open_below(base: Path, rel: str) -> int:
    """A file descriptor of the regular file `base/rel`; FileNotFoundError for anything else."""
    path = PurePosixPath(rel)
    parts = path.parts
    if not parts or path.is_absolute() or any(p in ("", ".", "..") or "\\" in p for p in parts):
        raise FileNotFoundError(rel)
    fd = os.open(base, _DIR_FLAGS)
    try:
        for part in parts[:-1]:
            inner = os.open(part, _DIR_FLAGS, dir_fd=fd)
            os.close(fd)
            fd = inner
        found = os.open(parts[-1], _FILE_FLAGS, dir_fd=fd)
    except OSError as e:  # ELOOP (a link), ENOTDIR, ENOENT, EACCES: all "not here" to a browser
        raise FileNotFoundError(rel) from e
    finally:
        os.close(fd)
    if not stat.S_ISREG(os.fstat(found).st_mode):
        os.close(found)
        raise FileNotFoundError(rel)
    os.set_blocking(found, True)
    return found


def read_below(base: Path, rel: str) -> bytes:
    fd = open_below(base, rel)
    with os.fdopen(fd, "rb") as f:
        return f.read()


def _chunks(fd: int) -> Iterator[bytes]:
    with os.fdopen(fd, "rb") as f:
        while chunk := f.read(CHUNK):
            yield chunk


def content_disposition(kind: str, filename: str) -> str:
    ascii_name = "".join(c if c.isascii() and c.isprintable() and c not in '"\\;' else "_" for c in filename)
    return f"{kind}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename, safe='')}"


def stream_fd(fd: int, media_type: str, filename: str, *, inline: bool) -> StreamingResponse:
    size = os.fstat(fd).st_size
    headers = {
        "content-length": str(size),
        "content-disposition": content_disposition("inline" if inline else "attachment", filename),
    }
    return StreamingResponse(_chunks(fd), media_type=media_type, headers=headers)


MEDIA_TYPES = {".pdf": "application/pdf", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png"}


def media_type_for(name: str) -> str:
    return MEDIA_TYPES.get(PurePosixPath(name).suffix.lower(), "application/octet-stream")

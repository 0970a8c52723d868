"""What one desk serves, and the checks made before it starts (exit 12, one line each)."""

from __future__ import annotations

import ipaddress
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from packager.errors import DeskError

MIN_TOKEN_CHARS = 16
# A case as scanned is 70–260 MB (the generated typical and heavy bundles); a gigabyte leaves room
# for phone photos without letting one request fill the disk.
DEFAULT_MAX_UPLOAD_BYTES = 1_000_000_000
DEFAULT_MAX_UPLOAD_FILES = 500


@dataclass(frozen=True)
class DeskConfig:
    outbox: Path
    inbox: Path | None = None  # None: no new cases from the browser
    host: str = "127.0.0.1"
    port: int = 8765  # 0: any free port (tests)
    token: str | None = None  # required beyond loopback; checked on every request
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES  # one new case, the whole request
    max_upload_files: int = DEFAULT_MAX_UPLOAD_FILES
    # Signs CSRF tokens; new at every start, so a form from before a restart is refused (reload it).
    secret: bytes = field(default_factory=lambda: secrets.token_bytes(32), repr=False)


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to anything


def check_config(cfg: DeskConfig) -> None:
    """Refuse to start on what would expose documents or could not work; DeskError names the fix."""
    if cfg.token is not None and (len(cfg.token) < MIN_TOKEN_CHARS or not cfg.token.isascii()
                                  or not cfg.token.isprintable() or " " in cfg.token):
        raise DeskError(
            f"--token must be at least {MIN_TOKEN_CHARS} printable ASCII characters without spaces "
            "(e.g. from `python -c 'import secrets; print(secrets.token_urlsafe())'`)"
        )
    if not is_loopback(cfg.host) and not cfg.token:
        raise DeskError(
            f"--host {cfg.host} serves passports beyond this machine: give --token (or PACKAGER_DESK_TOKEN), "
            "or keep the default --host 127.0.0.1"
        )
    if not 0 <= cfg.port <= 65535:
        raise DeskError(f"--port {cfg.port} is not a TCP port (0–65535)")
    if not cfg.outbox.is_dir():
        raise DeskError(f"{cfg.outbox}: OUTBOX is not a folder: give the folder `packager watch --out` writes")
    if cfg.inbox is not None:
        if not cfg.inbox.is_dir():
            raise DeskError(f"{cfg.inbox}: INBOX is not a folder: give the folder `packager watch` watches")
        if not os.access(cfg.inbox, os.W_OK | os.X_OK):
            raise DeskError(f"{cfg.inbox}: INBOX is not writable by this user: new cases could not be saved")

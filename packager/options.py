"""The one frozen options value the CLI and the watcher build and pass to the library."""

from __future__ import annotations

import re
from dataclasses import dataclass

from packager.profiles import DEFAULT_SYSTEM

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(b|kb|mb|gb|kib|mib|gib)?\s*$", re.IGNORECASE)
_UNITS = {"b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "kib": 2**10, "mib": 2**20, "gib": 2**30}


def parse_size(text: str) -> int:
    """'25MB' → 25_000_000 (decimal, as the ISA's limit is budgeted); '8000000' → 8_000_000."""
    m = _SIZE.match(text)
    if not m:
        raise ValueError(f"not a size: {text!r} (try 25MB, 8MB or a number of bytes)")
    value = float(m.group(1)) * _UNITS[(m.group(2) or "b").lower()]
    if value < 1:
        raise ValueError(f"size must be positive: {text!r}")
    return int(value)


@dataclass(frozen=True)
class BuildOptions:
    profile: str = DEFAULT_SYSTEM  # system profile name or path of a profile TOML file
    limit_bytes: int | None = None  # overrides the profile's upload limit
    keep_blank_pages: bool = False  # keep blank backs of duplex scans (default: drop and list)
    jobs: int = 0  # worker processes for page work; 0 = one per core

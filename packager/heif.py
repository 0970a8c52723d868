"""Pillow's HEIC/HEIF opener (iPhone photos), registered where such a file is met.

Registered on demand, not at import: pillow_heif's import costs ~11 ms of CPU at the start of
every build, and most cases have no HEIC file. Forked workers inherit a registration made
before them (intake registers it while it vets the files).
"""

from __future__ import annotations

import functools


@functools.cache
def register_heif() -> None:
    try:
        from pillow_heif import register_heif_opener

        register_heif_opener()
    except ImportError:  # pragma: no cover - a declared dependency
        pass


__all__ = ["register_heif"]

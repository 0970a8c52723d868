"""A system C library for ctypes, by the file names it usually has (jpeg_planes, ccitt)."""

from __future__ import annotations

import ctypes
import ctypes.util


def open_library(sonames: tuple[str, ...], name: str) -> ctypes.CDLL | None:
    """The library by its usual file names, else by ctypes' search; None where it is missing.
    The names first: the search runs ldconfig in a subprocess, which a build's worker (forked,
    under its memory limit) may fail to start now and then — and a page made by the fallback
    would differ between runs."""
    for soname in sonames:
        try:
            return ctypes.CDLL(soname)
        except OSError:
            continue
    found = ctypes.util.find_library(name)
    return ctypes.CDLL(found) if found else None


__all__ = ["open_library"]

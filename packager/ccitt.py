"""CCITT Group 4 of a bilevel page whose rows are already packed, by the system's libtiff.

MRC keeps its text mask as packed rows (8 pixels a byte). Pillow's TIFF writer takes a mode
"1" image (a byte a pixel) and packs it again for libtiff; on a 300 dpi A4 mask that packing
is most of the ~7 ms the G4 encode costs, the CCITT coding itself ~0.7–2 ms. Here libtiff
(libtiff.so.6 through ctypes) gets the packed rows as they are.

The rows hold ink as 1 (PhotometricInterpretation MinIsWhite), the fax convention: G4 codes
every row as runs that start white, so a page of white paper with black text codes shorter
than the same page written MinIsBlack (as Pillow writes a "1" image): 7–9 % fewer bytes on the
generated bundles' masks, the same pixels. The file is written to an anonymous memory file
(memfd): libtiff's own writer, no temporary file on disk.

Where libtiff or memfd is missing, or anything fails, tiff() returns None and the caller
encodes with Pillow as before. libtiff's warning and error handlers are silenced (they print
on stderr); a failure shows as a status, and then None.
"""

from __future__ import annotations

import ctypes
import functools
import os

from packager.clib import open_library

__all__ = ["available", "tiff"]

# TIFF tags (TIFF 6.0) and values.
_IMAGE_WIDTH, _IMAGE_LENGTH, _BITS_PER_SAMPLE, _COMPRESSION = 256, 257, 258, 259
_PHOTOMETRIC, _FILL_ORDER, _SAMPLES_PER_PIXEL, _ROWS_PER_STRIP = 262, 266, 277, 278
_CCITT_G4, _MIN_IS_WHITE, _MSB_FIRST = 4, 0, 1


@functools.cache
def _library() -> ctypes.CDLL | None:
    """libtiff with the functions used here typed, or None where it is not installed."""
    if not hasattr(os, "memfd_create"):
        return None
    try:
        lib = open_library(("libtiff.so.6", "libtiff.so.5"), "tiff")
        if lib is None:
            return None
        lib.TIFFFdOpen.restype = ctypes.c_void_p
        lib.TIFFFdOpen.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_char_p]
        lib.TIFFSetField.restype = ctypes.c_int  # variadic: the values are passed as C ints
        lib.TIFFWriteEncodedStrip.restype = ctypes.c_ssize_t
        lib.TIFFWriteEncodedStrip.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_char_p, ctypes.c_ssize_t]
        lib.TIFFClose.argtypes = [ctypes.c_void_p]
        lib.TIFFClose.restype = None
        for handler in (lib.TIFFSetWarningHandler, lib.TIFFSetErrorHandler):
            handler.restype = ctypes.c_void_p
            handler.argtypes = [ctypes.c_void_p]
            handler(None)
    except (OSError, AttributeError):
        return None
    return lib


def available() -> bool:
    return _library() is not None


def tiff(rows: bytes, width: int, height: int) -> bytes | None:
    """A single-strip G4 TIFF (MinIsWhite) of `height` rows of `width` pixels packed 8 a byte,
    the first in the high bit, each row whole bytes, ink = 1; None where libtiff cannot."""
    lib = _library()
    if lib is None or width <= 0 or height <= 0 or len(rows) != -(-width // 8) * height:
        return None
    fd = os.memfd_create("packager-g4")
    keep = os.dup(fd)  # TIFFClose closes fd; the file is read back through this one
    try:
        tif = lib.TIFFFdOpen(fd, b"g4", b"w")
        if not tif:
            os.close(fd)
            return None
        fields = (
            (_IMAGE_WIDTH, width), (_IMAGE_LENGTH, height), (_BITS_PER_SAMPLE, 1), (_SAMPLES_PER_PIXEL, 1),
            (_COMPRESSION, _CCITT_G4), (_PHOTOMETRIC, _MIN_IS_WHITE), (_FILL_ORDER, _MSB_FIRST),
            (_ROWS_PER_STRIP, height),
        )  # fmt: skip
        ok = all(
            lib.TIFFSetField(ctypes.c_void_p(tif), ctypes.c_uint32(tag), ctypes.c_int(v)) == 1 for tag, v in fields
        )
        ok = ok and lib.TIFFWriteEncodedStrip(tif, 0, rows, len(rows)) >= 0
        lib.TIFFClose(tif)
        if not ok:
            return None
        return os.pread(keep, os.fstat(keep).st_size, 0)
    finally:
        os.close(keep)

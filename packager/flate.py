"""Flate: a page of a few grey levels as a PNG file whose pixels img2pdf embeds as they are.

The text rungs (four and sixteen grey levels) are most of what a build encodes: every text
page the plan needs, once each. Pillow's PNG writer chooses a filter for each row and deflates
with the system's zlib. Rows left unfiltered and deflated by zlib-ng at the same level are both
faster and smaller: measured on the typical bundle's 13 four-level pages (300 dpi A4),
11.0 ms and 1,243,623 bytes with Pillow (run-length strategy), 5.3 ms and 1,179,360 bytes here
(zlib-ng, default strategy; its run-length strategy is 2.1 ms but 19 % bigger, the system zlib
at this setting 15.6 ms). Same pixels either way: PNG is lossless.

img2pdf copies the IDAT stream into the PDF as a Flate image with the PNG predictor, so the
PDF holds exactly the bytes written here.
"""

from __future__ import annotations

import struct
import zlib

import numpy as np
from PIL import Image
from zlib_ng import zlib_ng

_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_RAWMODE = {2: "L;2", 4: "L;4"}  # Pillow's packers: 4 or 2 pixels a byte, the first in the high bits
_FILTER_NONE = 0


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib_ng.crc32(kind + data))


def grey_png(levels: Image.Image, bits: int) -> bytes:
    """A greyscale PNG of `levels` (mode L holding 0 … 2**bits − 1) at `bits` per pixel."""
    if levels.mode != "L" or bits not in _RAWMODE:
        raise ValueError(f"grey_png takes an L image at 2 or 4 bits, not {levels.mode} at {bits}")
    packed = np.frombuffer(levels.tobytes("raw", _RAWMODE[bits]), dtype=np.uint8).reshape(levels.height, -1)
    rows = np.empty((levels.height, packed.shape[1] + 1), dtype=np.uint8)
    rows[:, 0] = _FILTER_NONE
    rows[:, 1:] = packed
    # Level 6: 5 is 1.5 % bigger, 7 twice the time for nothing (level 9: 5 % smaller, 8× the time).
    deflate = zlib_ng.compressobj(6, zlib.DEFLATED, 15, 9, zlib.Z_DEFAULT_STRATEGY)
    idat = deflate.compress(rows.data) + deflate.flush()
    header = struct.pack(">IIBBBBB", levels.width, levels.height, bits, 0, 0, 0, 0)  # grey, no interlace
    return _SIGNATURE + _chunk(b"IHDR", header) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")


__all__ = ["grey_png"]

"""A colour JPEG's luma and chroma as they are stored: libjpeg-turbo's planar decode.

Most pages a case holds are black print on white paper, scanned in colour. For such a page
packager needs the grey (luma) at full resolution, and the chroma only to learn that it is
quiet. Pillow's decode turns the JPEG's Y, Cb and Cr into RGB (chroma upsampled, colour
converted), and the text rungs turn that back into grey. libjpeg-turbo's TurboJPEG API can
stop before that: the Y plane at full size, Cb and Cr at their own (subsampled) size. Measured
on the heavy bundle's 300 dpi A4 financial statements (2.3 MB JPEGs, 4:2:0): 26.2 ms for the
planes against 30.8 ms for Pillow's RGB plus 4.6 ms for its grey conversion, and the
classifier's chroma test reads planes a quarter of the size (Planes.quiet).

The library is the system's libturbojpeg (Debian: libturbojpeg0), reached with ctypes through
its stable 1.4 API (the same symbols in libjpeg-turbo 2.x and 3.x). Where it is missing, or a
JPEG is not three-component YCbCr, or the decoder warns about anything (truncated or damaged
data), decode() returns None and the caller decodes with Pillow as before, which also words
the error a user sees. The luma equals Pillow's grey conversion of its RGB to ±1 level on
pages without strong colour (ITU-R 601 weights both), so the two paths build the same pages.
"""

from __future__ import annotations

import ctypes
import functools
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from packager.clib import open_library

_TJCS_YCBCR = 1  # turbojpeg.h, enum TJCS


_TJPF_RGB = 0  # enum TJPF
# Cb and Cr within this of neutral (128) cannot make a pixel colour (chroma_quiet says why).
QUIET_CHROMA = 16


@dataclass(frozen=True)
class Planes:
    luma: Image.Image  # mode L, the JPEG's own size (or its 1/2, 1/4, 1/8 scaled decode)
    chroma: tuple[Image.Image, Image.Image]  # Cb, Cr (mode L), at the JPEG's chroma subsampling
    subsampling: int  # TurboJPEG's TJSAMP value, which to_rgb needs
    arrays: tuple[np.ndarray, ...] = field(repr=False, compare=False, default=())  # the images' memory

    @functools.cached_property
    def quiet(self) -> bool:
        """chroma_quiet(), computed once (~1 ms on an A4 page's planes)."""
        return self.chroma_quiet()

    def chroma_quiet(self) -> bool:
        """Whether Cb and Cr are so near neutral that no pixel can count as colour (classify's
        CHROMA_MIN, 55, on max − min of R, G, B), so that the luma classifies the page as its RGB
        would. R, G, B of Y, Cb, Cr (ITU-R 601) differ by at most 3.18 × the larger chroma offset:
        offsets within QUIET_CHROMA give ≤ 51 + rounding, and averaging, upsampling and clipping
        only narrow it. A colour scan of black print on white paper is often this quiet (the
        generated bundles' within ±9, the corpus's 300 dpi poster scan ±7; its 100 dpi c02-22 scan
        reaches ±18). numpy's min and max: a tenth of Pillow's getextrema on these planes."""
        return all(int(a.min()) >= 128 - QUIET_CHROMA and int(a.max()) <= 128 + QUIET_CHROMA for a in self.arrays[1:])


@functools.cache
def _library() -> ctypes.CDLL | None:
    """libturbojpeg with the functions used here typed, or None where it is not installed."""
    try:
        lib = open_library(("libturbojpeg.so.0",), "turbojpeg")
        if lib is None:
            return None
        int_p = ctypes.POINTER(ctypes.c_int)
        lib.tjInitDecompress.restype = ctypes.c_void_p
        lib.tjInitDecompress.argtypes = []
        lib.tjDestroy.argtypes = [ctypes.c_void_p]
        lib.tjDecompressHeader3.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_ulong,
                                            int_p, int_p, int_p, int_p]
        lib.tjPlaneWidth.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.tjPlaneHeight.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.tjDecompressToYUVPlanes.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_ulong,
                                                ctypes.POINTER(ctypes.c_void_p), ctypes.c_int, int_p,
                                                ctypes.c_int, ctypes.c_int]
        lib.tjDecodeYUVPlanes.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_void_p), int_p, ctypes.c_int,
                                          ctypes.c_void_p, ctypes.c_int, ctypes.c_int, ctypes.c_int,
                                          ctypes.c_int, ctypes.c_int]
    except (OSError, AttributeError):  # an old or odd build without the planar API
        return None
    return lib


def available() -> bool:
    return _library() is not None


def decode(data: bytes, reduce: int = 1) -> Planes | None:
    """The JPEG's planes, scaled by libjpeg to 1/`reduce` of its size (1, 2, 4 or 8, as Pillow's
    draft() would); None where this decode does not apply."""
    if reduce not in (1, 2, 4, 8):
        raise ValueError(f"libjpeg scales by 1/2, 1/4 or 1/8, not 1/{reduce}")
    lib = _library()
    if lib is None:
        return None
    handle = lib.tjInitDecompress()
    if not handle:
        return None
    try:
        w, h, subsampling, colourspace = (ctypes.c_int() for _ in range(4))
        if lib.tjDecompressHeader3(handle, data, len(data), w, h, subsampling, colourspace) != 0:
            return None
        if colourspace.value != _TJCS_YCBCR:  # grey, RGB, CMYK, YCCK: Pillow's decode
            return None
        width, height = -(-w.value // reduce), -(-h.value // reduce)  # libjpeg rounds a scaled size up
        shapes = [(lib.tjPlaneHeight(i, height, subsampling.value), lib.tjPlaneWidth(i, width, subsampling.value))
                  for i in range(3)]
        if min(min(s) for s in shapes) <= 0:
            return None
        planes = [np.empty(shape, dtype=np.uint8) for shape in shapes]
        pointers = (ctypes.c_void_p * 3)(*(p.ctypes.data for p in planes))
        strides = (ctypes.c_int * 3)(*(s[1] for s in shapes))
        # Any warning (truncated, corrupt data) is a failure here: Pillow decodes such a page and
        # says what is wrong with it.
        if lib.tjDecompressToYUVPlanes(handle, data, len(data), pointers, width, strides, height, 0) != 0:
            return None
    finally:
        lib.tjDestroy(handle)
    luma, cb, cr = (Image.frombuffer("L", (p.shape[1], p.shape[0]), p, "raw", "L", 0, 1) for p in planes)
    if luma.size != (width, height):  # TurboJPEG pads the luma plane to whole chroma samples
        luma = luma.crop((0, 0, width, height))
    return Planes(luma=luma, chroma=(cb, cr), subsampling=subsampling.value, arrays=tuple(planes))


def to_rgb(planes: Planes) -> Image.Image:
    """The planes as an RGB image (libjpeg-turbo's colour conversion; its chroma upsampling is the
    plain one, not the decoder's interpolating one: a colour edge may differ from Pillow's decode
    by a few levels over a pixel or two)."""
    lib = _library()
    if lib is None:  # pragma: no cover - planes come only from the library
        raise RuntimeError("libturbojpeg is not available")
    arrays = planes.arrays
    width, height = planes.luma.size
    rgb = np.empty((height, width * 3), dtype=np.uint8)
    pointers = (ctypes.c_void_p * 3)(*(a.ctypes.data for a in arrays))
    strides = (ctypes.c_int * 3)(*(a.shape[1] for a in arrays))
    handle = lib.tjInitDecompress()
    try:
        status = lib.tjDecodeYUVPlanes(handle, pointers, strides, planes.subsampling, rgb.ctypes.data,
                                       width, width * 3, height, _TJPF_RGB, 0)
    finally:
        lib.tjDestroy(handle)
    if status != 0:  # pragma: no cover - planes it decoded itself
        raise RuntimeError("libturbojpeg could not convert the planes to RGB")
    return Image.frombuffer("RGB", (width, height), rgb, "raw", "RGB", 0, 1)


def two_thirds(plane: np.ndarray) -> np.ndarray:
    """The box reduction of a uint8 plane to 2/3 as Pillow's BOX filter samples it (of every 3
    pixels, 0–1 averaged for the first cell, 2 for the second), edges repeated; in numpy, ~3×
    faster than Pillow's resize. 4:2:0 chroma (half the page's resolution) to a third of it."""
    h, w = plane.shape
    h3, w3 = -(-h // 3), -(-w // 3)
    v = np.empty((h3 * 3, w3 * 3), np.uint16)
    v[:h, :w] = plane
    v[h:, :w] = plane[-1:]
    v[:, w:] = v[:, w - 1 : w]
    sums, _ = thirds_sums(v)
    sums += 2
    out = np.empty((h3 * 2, w3 * 2), np.uint8)
    np.right_shift(sums, 2, out=out, casting="unsafe")
    return out


def thirds_sums(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The sums of a 2/3 box reduction of `v` (contiguous uint16, whole 3×3 blocks), each block's
    2×2 cells as Pillow's BOX filter samples them: rows and columns 0–1 for the first cell, 2
    counted twice for the second, so that every cell holds the sum of four. Columns 3 → 2, then
    rows 3 → 2. The sums are written over `v`'s own memory (it is read no more), shape
    (2·h3, 2·w3); the second array is the column sums' scratch, free for the caller."""
    h3, w3 = v.shape[0] // 3, v.shape[1] // 3
    by_cols = np.empty((h3 * 3, w3, 2), np.uint16)
    v3 = v.reshape(h3 * 3, w3, 3)
    np.add(v3[..., 0], v3[..., 1], out=by_cols[..., 0])
    np.left_shift(v3[..., 2], 1, out=by_cols[..., 1])
    r3 = by_cols.reshape(h3, 3, w3 * 2)
    cells = v.ravel()[: h3 * 2 * w3 * 2].reshape(h3, 2, w3 * 2)
    np.add(r3[:, 0], r3[:, 1], out=cells[:, 0])
    np.left_shift(r3[:, 2], 1, out=cells[:, 1])
    return cells.reshape(h3 * 2, w3 * 2), by_cols


def rgb_thumbnail(planes: Planes, factor: int) -> Image.Image:
    """The page reduced `factor` times (a box), as RGB, from its planes: the luma reduced, the
    chroma brought to the same size (4:2:0 at factor 3: two_thirds), converted — what
    to_rgb(planes).reduce(factor) gives to a level or two, without the full-size RGB (to_rgb
    ~8.5 ms and the reduction ~5.5 ms of an A4 page at 300 dpi, this ~4)."""
    luma = planes.luma.reduce(factor) if factor > 1 else planes.luma
    size = luma.size
    bands = []
    for plane in planes.arrays[1:]:
        if factor == 3 and plane.shape == (-(-planes.luma.height // 2), -(-planes.luma.width // 2)):
            cells = two_thirds(plane)
            if cells.shape != (size[1], size[0]):
                cells = np.ascontiguousarray(cells[: size[1], : size[0]])
            bands.append(Image.fromarray(cells, "L"))
        else:
            bands.append(Image.fromarray(plane, "L").resize(size, Image.Resampling.BOX))
    return Image.merge("YCbCr", (luma, *bands)).convert("RGB")


__all__ = ["Planes", "available", "decode", "rgb_thumbnail", "thirds_sums", "to_rgb", "two_thirds"]

"""What a C decoder prints while it decodes: kept from the user's terminal, read for damage.

libtiff reports damaged data on the process's stderr, from C, and goes on: a garbled CCITT G4
strip gives hundreds of "Fax4Decode: Bad code word at line 177 of strip 5 (x 268)" lines on
the user's terminal, and Pillow returns the page with garbage rows — no exception. Here the
decode runs with file descriptor 2 pointed at a temporary file; the decoder's damage reports
become one reason (the page is refused like a truncated JPEG), and anything else written there
meanwhile (another thread's log line) is passed on to stderr unchanged.

Workers are single-threaded, so the redirection only sees the decoder; in a process with other
threads (the desk, the watcher with --jobs 1) their lines written during the decode arrive a few
milliseconds late, not lost.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
from collections.abc import Iterator

# libtiff's messages are "Module: text"; its decoders' modules end in Decode… (Fax3Decode1D,
# Fax4Decode, LZWDecode, ZIPDecode, PredictorDecodeRow) or read strips and tiles. Directory
# warnings ("TIFFReadDirectory: Warning, Unknown field with tag …") are not damage to the pixels.
_DAMAGE = re.compile(r"^(\w*Decode\w*|TIFFFillStrip|TIFFFillTile|TIFFReadEncoded\w+|TIFFReadRaw\w+): ")


# What each libtiff module decodes, in a user's words (the reason names the data, then libtiff's
# own report without its module name: "damaged CCITT G4 fax data: Bad code word at line 177 …").
_WHAT = (
    (re.compile(r"^Fax4"), "CCITT G4 fax"),
    (re.compile(r"^Fax3"), "CCITT G3 fax"),
    (re.compile(r"^LZW"), "LZW-compressed"),
    (re.compile(r"^(ZIP|Deflate)"), "Deflate-compressed"),
    (re.compile(r"^PackBits"), "PackBits-compressed"),
    (re.compile(r"^O?JPEG"), "JPEG-compressed"),
    (re.compile(r"^Predictor"), "predicted"),
    (re.compile(r"^TIFF(FillStrip|ReadEncodedStrip|ReadRawStrip)"), "strip"),
    (re.compile(r"^TIFF(FillTile|ReadEncodedTile|ReadRawTile)"), "tile"),
)


def _reason(report: str) -> str:
    """libtiff's first damage report as a reason: what data is damaged, then what it says."""
    module, _, text = report.strip().partition(": ")
    what = next((name for pattern, name in _WHAT if pattern.match(module)), "image")
    return f"damaged {what} data: {text.strip() or module}"


class DamagedData(ValueError):
    """The decoder reported damaged data (its first report is the message)."""


@contextlib.contextmanager
def refused_on_damage() -> Iterator[None]:
    """Run a decode with stderr captured; raise DamagedData if the decoder reported damage."""
    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # no stderr at all (closed by whoever started us): nothing reaches a terminal
        yield
        return
    with tempfile.TemporaryFile() as sink:
        os.dup2(sink.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            sink.seek(0)
            lines = sink.read().decode("utf-8", errors="replace").splitlines()
        damage = [line for line in lines if _DAMAGE.match(line)]
        others = [line for line in lines if line.strip() and not _DAMAGE.match(line)]
        if others:
            print("\n".join(others), file=sys.stderr)
        if damage:
            raise DamagedData(_reason(damage[0]))


__all__ = ["DamagedData", "refused_on_damage"]

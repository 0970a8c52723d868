"""decoder_messages: a C decoder's damage reports on stderr become one reason, not terminal noise."""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from packager.decoder_messages import DamagedData, refused_on_damage
from packager.intake import scan_case
from packager.pages import describe_pages, load_page
from packager.profiles import load_system_profile

SYSTEM = load_system_profile()


def _write_fd2(text: str) -> None:
    os.write(2, text.encode())  # as C code does: past Python's sys.stderr


def test_damage_reported_by_the_decoder_is_raised_and_kept_from_the_terminal(capfd: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(DamagedData, match="CCITT G4 fax data: Bad code word at line 9"), refused_on_damage():
        _write_fd2("Fax4Decode: Bad code word at line 9 of strip 0 (x 4).\n" * 300)
    assert capfd.readouterr().err == ""


def test_other_lines_pass_through_and_are_not_damage(capfd: pytest.CaptureFixture[str]) -> None:
    with refused_on_damage():
        _write_fd2("TIFFReadDirectory: Warning, Unknown field with tag 32934 (0x80a6) encountered.\n")
    assert "Unknown field with tag 32934" in capfd.readouterr().err


def _garbled_g4_tiff(path: Path) -> None:
    page = Image.new("L", (1240, 1754), 255)
    draw = ImageDraw.Draw(page)
    for y in range(100, 1650, 40):
        draw.text((100, y), "A line of text on a faxed page " * 3, fill=0)
    buf = io.BytesIO()
    page.convert("1").save(buf, "TIFF", compression="group4", dpi=(150, 150))
    data = bytearray(buf.getvalue())
    data[len(data) // 3 : len(data) // 3 + 200] = b"\xff" * 200  # inside the G4 strip
    path.write_bytes(bytes(data))


def test_a_garbled_g4_tiff_page_is_refused_with_one_reason(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    _garbled_g4_tiff(tmp_path / "fax.tif")
    (inp,) = scan_case(tmp_path, SYSTEM).inputs
    (page,) = describe_pages(inp, SYSTEM)
    with pytest.raises(DamagedData, match=r"^damaged CCITT G4 fax data: Bad code word at line \d+"):
        load_page(page, 300)
    assert "Fax4Decode" not in capfd.readouterr().err


def test_a_sound_g4_tiff_still_loads(tmp_path: Path) -> None:
    bits = np.full((200, 300), 255, dtype=np.uint8)
    bits[50:60, 40:260] = 0
    Image.fromarray(bits).convert("1").save(tmp_path / "fax.tif", compression="group4", dpi=(300, 300))
    (inp,) = scan_case(tmp_path, SYSTEM).inputs
    (page,) = describe_pages(inp, SYSTEM)
    assert np.array_equal(np.asarray(load_page(page, 300).image), bits)


def test_a_process_without_stderr_still_decodes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Started with file descriptor 2 closed (`2>&-`, some service managers): no capture, no failure."""

    def no_fd(fd: int) -> int:
        raise OSError(9, "Bad file descriptor")

    monkeypatch.setattr(os, "dup", no_fd)
    ran = []
    with refused_on_damage():
        ran.append(True)
    assert ran == [True]


@pytest.mark.parametrize(
    ("report", "reason"),
    [
        ("Fax4Decode: Bad code word at line 177 of strip 5 (x 268).",
         "damaged CCITT G4 fax data: Bad code word at line 177 of strip 5 (x 268)."),
        ("Fax3Decode1D: Premature EOL at line 3", "damaged CCITT G3 fax data: Premature EOL at line 3"),
        ("LZWDecode: Corrupted LZW table", "damaged LZW-compressed data: Corrupted LZW table"),
        ("TIFFFillStrip: Read error on strip 3", "damaged strip data: Read error on strip 3"),
        ("SomethingDecode: odd", "damaged image data: odd"),
    ],
)
def test_a_damage_report_is_worded_for_a_user(report: str, reason: str) -> None:
    from packager.decoder_messages import _reason

    assert _reason(report) == reason

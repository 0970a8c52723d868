"""New cases from the browser (packager.desk.newcase): names from anywhere stay inside the case."""

from __future__ import annotations

import io
import os
import unicodedata
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from packager.desk.newcase import (
    TEMP_PREFIX,
    CaseFields,
    NewCaseRefused,
    case_toml,
    remove_stale_temporaries,
    sanitise_component,
    upload_path,
    write_case,
)
from packager.intake import read_case_info

names = st.text(st.characters(codec="utf-8"), max_size=60) | st.sampled_from(
    ["../x.pdf", "..\\..\\x.pdf", "/etc/passwd", "a/./b", "CON", "\u202egpj.exe", "　", "scan\x00.pdf", "~$a.docx"]
)


@given(st.lists(names, min_size=1, max_size=4).map("/".join))
def test_upload_path_is_always_inside_the_case(filename: str) -> None:
    rel = upload_path(filename)
    if rel is None:
        return  # litter, left out and listed
    assert not rel.is_absolute() and rel.parts
    for part in rel.parts:
        assert part not in (".", "..") and "/" not in part and "\\" not in part
        assert not part.startswith(".")
        assert all(unicodedata.category(c)[0] != "C" for c in part)
        assert not any(c in '<>:"|?*' for c in part)
        assert len(part) <= 100


@given(names)
def test_sanitised_component_is_stable(text: str) -> None:
    once = sanitise_component(text)
    assert sanitise_component(once) == once


def test_readable_names_stay_readable() -> None:
    assert str(upload_path("田中/在職証明書 (2).pdf")) == "田中/在職証明書 (2).pdf"
    assert str(upload_path("C:\\scans\\passport.jpg")) == "C_/scans/passport.jpg"
    assert upload_path("case/.DS_Store") is None and upload_path("__MACOSX/x.jpg") is None


@settings(max_examples=40, deadline=None)
@given(st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40))
def test_case_toml_round_trips_through_the_library(tmp_path_factory: pytest.TempPathFactory, text: str) -> None:
    folder = tmp_path_factory.mktemp("toml")
    fields = CaseFields(application="extension", applicant_name=text, bureau=text, sender=text)
    (folder / "case.toml").write_text(case_toml(fields), encoding="utf-8")
    info = read_case_info(folder)
    assert info.applicant.name == text and info.bureau == text and info.application == "extension"


def test_write_case_is_whole_or_nothing(tmp_path: Path) -> None:
    inbox = tmp_path / "INBOX"
    inbox.mkdir()

    class Broken(io.BytesIO):
        def read(self, size: int | None = -1) -> bytes:
            raise OSError("connection reset")

    with pytest.raises(OSError):
        write_case(inbox, "x", CaseFields(), [("a.pdf", io.BytesIO(b"%PDF")), ("b.pdf", Broken())])
    assert list(inbox.iterdir()) == []  # the half-written case never appeared, and left nothing
    with pytest.raises(NewCaseRefused, match="no files"):
        write_case(inbox, "x", CaseFields(), [("Thumbs.db", io.BytesIO(b"x"))])
    made = write_case(inbox, "", CaseFields(), [("folder/a.pdf", io.BytesIO(b"1")), ("folder/A.pdf", io.BytesIO(b"2")),
                                                ("folder/sub/a.pdf", io.BytesIO(b"3"))])
    assert made.name == "folder"  # the picked folder names the case
    assert sorted(f.path for f in made.files) == ["A-2.pdf", "a.pdf", "sub/a.pdf"]  # no clash, even case-blind
    assert (inbox / "folder" / "READY").is_file()


def test_stale_temporaries_of_a_crashed_desk_are_removed(tmp_path: Path) -> None:
    old, fresh, theirs = tmp_path / f"{TEMP_PREFIX}old", tmp_path / f"{TEMP_PREFIX}new", tmp_path / ".other"
    for folder in (old, fresh, theirs):
        folder.mkdir()
        (folder / "scan.pdf").write_bytes(b"x")
    os.utime(old, (0, 0))
    os.utime(theirs, (0, 0))
    assert remove_stale_temporaries(tmp_path) == 1
    assert not old.exists() and fresh.exists() and theirs.exists()

"""inbox: loose files wrapped into case folders, crash-safe; the folder pair checked before serving."""

from __future__ import annotations

from pathlib import Path

import pytest

from packager.errors import WatchError
from packager.inbox import LooseFiles, check_folders, is_ours
from tests.test_journal import SimulatedCrash, crash_hook, make_case


@pytest.fixture
def inbox(tmp_path: Path) -> Path:
    folder = tmp_path / "in"
    folder.mkdir()
    return folder


@pytest.mark.parametrize("point", ["wrap.mkdir", "wrap.moved"])
def test_loose_file_wrap_survives_a_crash(inbox: Path, point: str) -> None:
    (inbox / "scan0001.pdf").write_bytes(b"%PDF-loose")
    with pytest.raises(SimulatedCrash):
        LooseFiles(inbox, crash_at=crash_hook(point)).wrap("scan0001.pdf")
    assert all(is_ours(p.name) or p.name == "scan0001.pdf" for p in inbox.iterdir())
    fresh = LooseFiles(inbox)
    made = fresh.recover()
    if not made:  # crashed before the move: the file is still loose, wrap again
        assert (inbox / "scan0001.pdf").exists()
        made = [fresh.wrap("scan0001.pdf")]
    assert made == ["scan0001"]
    assert (inbox / "scan0001" / "scan0001.pdf").read_bytes() == b"%PDF-loose"
    assert sorted(p.name for p in inbox.iterdir()) == ["scan0001"]


def test_wrap_never_overwrites_a_case_of_the_same_name(inbox: Path) -> None:
    make_case(inbox, "scan", {"a.pdf": b"1"})
    (inbox / "scan.pdf").write_bytes(b"2")
    assert LooseFiles(inbox).wrap("scan.pdf") == "scan-2"
    assert (inbox / "scan" / "a.pdf").read_bytes() == b"1"
    assert LooseFiles(inbox).wrap("gone.pdf") is None


def test_folders_that_contain_each_other_are_refused(inbox: Path) -> None:
    with pytest.raises(WatchError, match="must not contain each other"):
        check_folders(inbox, inbox / "out")
    _, resolved_out = check_folders(inbox, inbox.parent / "out")
    assert (resolved_out / ".work").is_dir() and list(inbox.iterdir()) == []  # the probe is gone

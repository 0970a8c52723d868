"""Junk filter, case snapshots and the stability tracker (injected clock, no sleeping)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from packager.stability import (
    StabilityTracker,
    is_junk,
    is_junk_path,
    is_ready_marker,
    snapshot_case,
    snapshot_file,
)


class FakeClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.mark.parametrize(
    "name",
    [".DS_Store", "Thumbs.db", "thumbs.db", "desktop.ini", "~$letter.docx", "scan.tmp", "scan.pdf.part",
     "x.crdownload", ".hidden", "._scan.pdf", "@eaDir", "__MACOSX", ".rsync-tmp.abc"],
)
def test_junk_names(name: str) -> None:
    assert is_junk(name)


@pytest.mark.parametrize("name", ["scan.pdf", "passport.jpg", "case.toml", "READY", "tmp.pdf", "part1.pdf", "在留.pdf"])
def test_input_names_are_not_junk(name: str) -> None:
    assert not is_junk(name)


def test_junk_path_checks_every_component() -> None:
    assert is_junk_path("@eaDir/scan.pdf@SynoEAStream")
    assert is_junk_path("sub/.hidden/x.pdf")
    assert not is_junk_path("sub/x.pdf")


def test_ready_marker() -> None:
    assert is_ready_marker("READY") and is_ready_marker("ready.txt") and not is_ready_marker("READY.pdf")


def test_tracker_settles_after_exactly_settle_seconds() -> None:
    clock = FakeClock()
    t = StabilityTracker(60, clock)
    assert not t.observe("a", 1)
    clock.advance(59.9)
    assert not t.observe("a", 1)
    clock.advance(0.1)
    assert t.observe("a", 1)


def test_tracker_change_and_event_restart_the_wait() -> None:
    clock = FakeClock()
    t = StabilityTracker(10, clock)
    t.observe("a", 1)
    clock.advance(9)
    assert not t.observe("a", 2)  # changed: wait again from now
    clock.advance(9)
    t.touch("a")  # an event without a visible change still counts
    clock.advance(9)
    assert not t.observe("a", 2)
    clock.advance(1)
    assert t.observe("a", 2)
    t.forget("a")
    assert "a" not in t and not t.is_settled("a")


def test_touch_before_first_observation_is_not_settled() -> None:
    clock = FakeClock()
    t = StabilityTracker(0, clock)
    t.touch("a")
    assert not t.is_settled("a")
    assert t.observe("a", 1)  # settle 0: ready as soon as it has been seen


@given(st.lists(st.tuples(st.floats(0, 30, allow_nan=False), st.booleans()), max_size=30))
def test_tracker_matches_a_reference_model(steps: list[tuple[float, bool]]) -> None:
    clock = FakeClock()
    t = StabilityTracker(15, clock)
    sig, last_change = 0, clock.now
    t.observe("k", sig)
    for dt, change in steps:
        clock.advance(dt)
        if change:
            sig += 1
            last_change = clock.now
        assert t.observe("k", sig) == (clock.now - last_change >= 15)


def _write(p: Path, data: bytes = b"x") -> None:
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(data)


def test_snapshot_sees_sizes_lists_and_ignores_os_metadata(tmp_path: Path) -> None:
    case = tmp_path / "case"
    _write(case / "a.pdf", b"1")
    _write(case / "sub" / "b.jpg", b"22")
    s1 = snapshot_case(case)
    assert s1.content_count == 2 and not s1.has_ready
    _write(case / ".DS_Store", b"finder")
    _write(case / "sub" / "Thumbs.db", b"x")
    assert snapshot_case(case) == s1  # browsing the folder does not hold the case back
    _write(case / "a.pdf", b"11")
    s2 = snapshot_case(case)
    assert s2 != s1
    _write(case / "scan.pdf.part", b"...")
    s3 = snapshot_case(case)
    assert s3 != s2 and s3.content_count == 2  # activity, but not an input
    _write(case / "READY", b"")
    s4 = snapshot_case(case)
    assert s4.has_ready and s4.content_count == 2


def test_snapshot_does_not_follow_links(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    _write(outside / "secret.pdf")
    case = tmp_path / "case"
    _write(case / "a.pdf")
    os.symlink(outside, case / "link")
    snap = snapshot_case(case)
    kinds = {e.path: e.kind for e in snap.entries}
    assert kinds == {"a.pdf": "file", "link": "link"}


def test_snapshot_file(tmp_path: Path) -> None:
    f = tmp_path / "loose.pdf"
    _write(f, b"abc")
    snap = snapshot_file(f)
    assert snap is not None and snap.content_count == 1
    os.symlink(f, tmp_path / "link.pdf")
    assert snapshot_file(tmp_path / "link.pdf") is None
    assert snapshot_file(tmp_path / "missing.pdf") is None

"""atomic: files replaced whole, one at a time or several together (AtomicBatch)."""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path

import pytest

from packager.atomic import TEMP_PREFIX, AtomicBatch, atomic_write_bytes


def test_a_batch_puts_every_file_in_place_at_its_end_and_no_thread_outlives_it(tmp_path: Path) -> None:
    old = tmp_path / "upload" / "01-passport.pdf"
    atomic_write_bytes(old, b"old")
    threads_before = threading.active_count()
    with AtomicBatch() as batch:
        for n in range(6):
            with batch.open(tmp_path / "upload" / f"{n:02d}-passport.pdf") as f:
                f.write(b"new %d" % n)
        assert old.read_bytes() == b"old"  # nothing replaced before the end
        assert batch.temporary_of(old).read_bytes() == b"new 1"
    assert threading.active_count() == threads_before  # the fsync threads ended: forking is safe again
    assert sorted(p.name for p in (tmp_path / "upload").iterdir()) == [f"{n:02d}-passport.pdf" for n in range(6)]
    assert [(tmp_path / "upload" / f"{n:02d}-passport.pdf").read_bytes() for n in range(6)] == [
        b"new %d" % n for n in range(6)
    ]
    assert batch.sha256(old) == hashlib.sha256(b"new 1").hexdigest()


def test_a_batch_that_fails_leaves_the_old_files_and_no_temporaries(tmp_path: Path) -> None:
    old = tmp_path / "a.pdf"
    atomic_write_bytes(old, b"old")
    threads_before = threading.active_count()
    with pytest.raises(RuntimeError), AtomicBatch() as batch:
        with batch.open(old) as f:
            f.write(b"new")
        with batch.open(tmp_path / "b.pdf") as f:
            f.write(b"half")
            raise RuntimeError("the writer failed")
    assert old.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["a.pdf"]
    assert not any(p.name.startswith(TEMP_PREFIX) for p in tmp_path.iterdir())
    assert threading.active_count() == threads_before

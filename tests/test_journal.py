"""Claim, journal and recovery: a crash injected between any two steps, then a restart.

After every crash the result must be exactly one complete OUTBOX/<case>/ (or one
_failed/<case>/), the originals byte-identical, and nothing left in INBOX or the work area.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from types import SimpleNamespace

import pytest

from packager.errors import ExitCode, NothingToPackage
from packager.journal import FAILED_DIR, MAX_BUILD_ATTEMPTS, WORK_DIR, WorkArea
from packager.options import BuildOptions

OPTIONS = BuildOptions()


class SimulatedCrash(BaseException):
    """Stands for SIGKILL: BaseException, so no `except Exception` in the code under test catches it."""


def fake_package(case_dir: Path, out_dir: Path, options: BuildOptions) -> SimpleNamespace:
    """Stand-in for api.package: concatenates the inputs; a case holding 'bad' fails as a whole."""
    names = sorted(p.name for p in case_dir.iterdir())
    assert not any(n.startswith(".") or n == "READY" for n in names), "junk reached the library"
    if not names or any(n.startswith("bad") for n in names):
        raise NothingToPackage(f"{case_dir.name}: every input was rejected (not a PDF or image)")
    data = b"".join((case_dir / n).read_bytes() for n in names if (case_dir / n).is_file()
                    and not (case_dir / n).is_symlink())
    (out_dir / "upload").mkdir(parents=True)
    (out_dir / "upload" / "01-doc.pdf").write_bytes(data)
    (out_dir / "manifest.json").write_text(json.dumps({"inputs": names}))
    return SimpleNamespace(out_dir=out_dir, upload_bytes=len(data), page_count=len(names), exit_code=ExitCode.OK)


def digests(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and not p.is_symlink()}


def make_case(inbox: Path, name: str, files: dict[str, bytes]) -> dict[str, str]:
    for rel, data in files.items():
        (inbox / name / rel).parent.mkdir(parents=True, exist_ok=True)
        (inbox / name / rel).write_bytes(data)
    return digests(inbox / name)


@pytest.fixture
def boxes(tmp_path: Path) -> tuple[Path, Path]:
    inbox, outbox = tmp_path / "in", tmp_path / "out"
    inbox.mkdir()
    outbox.mkdir()
    return inbox, outbox


def run_all(area: WorkArea, package=fake_package) -> list:  # type: ignore[no-untyped-def]
    return [area.finish(w, package, OPTIONS) for w in area.claimed()]


def assert_clean(inbox: Path, outbox: Path) -> None:
    assert list((outbox / WORK_DIR).iterdir()) == []
    assert [p.name for p in inbox.iterdir()] == []
    leftovers = [p for p in outbox.rglob("*") if p.name.startswith(".tmp-")]
    assert leftovers == []


GOOD = {"a.pdf": b"%PDF-a", "b.jpg": b"\xff\xd8jpeg", ".DS_Store": b"finder", "READY": b""}


def test_claim_and_finish(boxes: tuple[Path, Path]) -> None:
    inbox, outbox = boxes
    before = make_case(inbox, "tanaka", GOOD)
    area = WorkArea(inbox, outbox)
    area.ensure()
    work = area.claim("tanaka")
    assert work is not None and not (inbox / "tanaka").exists()
    outcome = area.finish(work, fake_package, OPTIONS)
    assert outcome is not None and outcome.status == "done" and outcome.dest == outbox / "tanaka"
    res = outbox / "tanaka"
    assert (res / "manifest.json").is_file() and (res / "upload" / "01-doc.pdf").read_bytes() == b"%PDF-a\xff\xd8jpeg"
    moved = digests(res / "originals") | {f: d for f, d in digests(res / "ignored").items()}
    assert moved == before
    assert set(digests(res / "ignored")) == {".DS_Store", "READY"}
    assert_clean(inbox, outbox)


def test_failure_goes_whole_to_failed_with_reason(boxes: tuple[Path, Path]) -> None:
    inbox, outbox = boxes
    before = make_case(inbox, "bad-case", {"bad.txt": b"nope", ".DS_Store": b"x", "READY": b""})
    area = WorkArea(inbox, outbox)
    area.ensure()
    outcome = area.finish(area.claim("bad-case"), fake_package, OPTIONS)  # type: ignore[arg-type]
    assert outcome is not None and outcome.status == "failed"
    failed = outbox / FAILED_DIR / "bad-case"
    after = digests(failed)
    reason = after.pop("reason.txt")
    assert reason and after == before  # junk and READY are back where they were
    assert "every input was rejected" in (failed / "reason.txt").read_text()
    assert outcome.exit_code == ExitCode.NOTHING_TO_PACKAGE
    assert_clean(inbox, outbox)


def test_internal_error_is_quarantined(boxes: tuple[Path, Path]) -> None:
    inbox, outbox = boxes
    make_case(inbox, "c", {"reason.txt": b"the applicant's own file", "a.pdf": b"x"})

    def broken(case_dir: Path, out_dir: Path, options: BuildOptions) -> SimpleNamespace:
        out_dir.mkdir()
        (out_dir / "half.pdf").write_bytes(b"half")
        raise ZeroDivisionError("boom")

    area = WorkArea(inbox, outbox)
    area.ensure()
    outcome = area.finish(area.claim("c"), broken, OPTIONS)  # type: ignore[arg-type]
    assert outcome is not None and outcome.status == "failed" and "internal error: ZeroDivisionError" in outcome.reason
    failed = outbox / FAILED_DIR / "c"
    assert (failed / "reason.txt").read_bytes() == b"the applicant's own file"  # never overwritten
    assert "ZeroDivisionError" in (failed / "reason-packager.txt").read_text()
    assert not (failed / "half.pdf").exists()


def test_name_clash_gets_a_suffix(boxes: tuple[Path, Path]) -> None:
    inbox, outbox = boxes
    (outbox / "tanaka").mkdir()
    (outbox / "tanaka" / "keep.txt").write_text("earlier result")
    make_case(inbox, "tanaka", {"a.pdf": b"1"})
    area = WorkArea(inbox, outbox)
    area.ensure()
    outcome = area.finish(area.claim("tanaka"), fake_package, OPTIONS)  # type: ignore[arg-type]
    assert outcome is not None and outcome.dest == outbox / "tanaka-2"
    assert (outbox / "tanaka" / "keep.txt").read_text() == "earlier result"
    make_case(inbox, "_failed", {"a.pdf": b"1"})  # a case named like a reserved folder
    outcome = area.finish(area.claim("_failed"), fake_package, OPTIONS)  # type: ignore[arg-type]
    assert outcome is not None and outcome.dest == outbox / "_failed-2"


SUCCESS_POINTS = ["claim.journaled", "claim.renamed", "build.prepared", "build.packaged", "build.journaled",
                  "place.originals", "place.journaled", "place.renamed"]
FAILURE_POINTS = ["claim.journaled", "claim.renamed", "build.prepared", "fail.journaled", "fail.reasoned",
                  "place.renamed"]


def crash_hook(point: str):  # type: ignore[no-untyped-def]
    def hook(at: str) -> None:
        if at == point:
            raise SimulatedCrash(at)

    return hook


def _crash_then_restart(inbox: Path, outbox: Path, name: str, point: str) -> None:
    area = WorkArea(inbox, outbox, crash_at=crash_hook(point))
    area.ensure()
    with pytest.raises(SimulatedCrash):
        work = area.claim(name)
        assert work is not None
        area.finish(work, fake_package, OPTIONS)
    # Restart: a fresh WorkArea resumes the work area, then the case is claimed anew if it was released.
    fresh = WorkArea(inbox, outbox)
    outcomes = run_all(fresh)
    if (inbox / name).exists():
        assert all(o is None or o.status == "released" for o in outcomes)
        work = fresh.claim(name)
        assert work is not None
        fresh.finish(work, fake_package, OPTIONS)


@pytest.mark.parametrize("point", SUCCESS_POINTS)
def test_crash_at_each_step_then_restart_finishes_exactly_once(boxes: tuple[Path, Path], point: str) -> None:
    inbox, outbox = boxes
    before = make_case(inbox, "sato", GOOD | {"sub/c.png": b"\x89PNG"})
    _crash_then_restart(inbox, outbox, "sato", point)
    results = [p.name for p in outbox.iterdir() if p.name not in (WORK_DIR, FAILED_DIR)]
    assert results == ["sato"]
    res = outbox / "sato"
    assert (res / "manifest.json").is_file()
    assert digests(res / "originals") | digests(res / "ignored") == before
    assert list((outbox / FAILED_DIR).iterdir()) == []
    assert_clean(inbox, outbox)


@pytest.mark.parametrize("point", FAILURE_POINTS)
def test_crash_on_the_failure_path_then_restart(boxes: tuple[Path, Path], point: str) -> None:
    inbox, outbox = boxes
    before = make_case(inbox, "bad", {"bad.bin": b"\0", "Thumbs.db": b"t", "READY": b""})
    _crash_then_restart(inbox, outbox, "bad", point)
    assert [p.name for p in (outbox / FAILED_DIR).iterdir()] == ["bad"]
    after = digests(outbox / FAILED_DIR / "bad")
    assert after.pop("reason.txt") and after == before
    assert [p.name for p in outbox.iterdir() if p.name not in (WORK_DIR, FAILED_DIR)] == []
    assert_clean(inbox, outbox)


def test_a_case_that_keeps_killing_the_build_is_set_aside(boxes: tuple[Path, Path]) -> None:
    inbox, outbox = boxes
    before = make_case(inbox, "bomb", {"a.pdf": b"x"})
    calls = 0

    def killer(case_dir: Path, out_dir: Path, options: BuildOptions) -> SimpleNamespace:
        nonlocal calls
        calls += 1
        raise SimulatedCrash("OOM killer")

    area = WorkArea(inbox, outbox)
    area.ensure()
    area.claim("bomb")
    for _ in range(MAX_BUILD_ATTEMPTS):
        with pytest.raises(SimulatedCrash):
            run_all(WorkArea(inbox, outbox), killer)
    outcomes = run_all(WorkArea(inbox, outbox), killer)
    assert calls == MAX_BUILD_ATTEMPTS
    assert outcomes[0] is not None and outcomes[0].status == "failed" and "interrupted" in outcomes[0].reason
    after = digests(outbox / FAILED_DIR / "bomb")
    after.pop("reason.txt")
    assert after == before


def test_symlink_in_a_case_is_moved_as_a_link_and_its_target_left_alone(boxes: tuple[Path, Path],
                                                                          tmp_path: Path) -> None:
    inbox, outbox = boxes
    target = tmp_path / "secret.pdf"
    target.write_bytes(b"secret")
    make_case(inbox, "k", {"a.pdf": b"1"})
    os.symlink(target, inbox / "k" / "link.pdf")
    area = WorkArea(inbox, outbox)
    area.ensure()
    area.finish(area.claim("k"), fake_package, OPTIONS)  # type: ignore[arg-type]
    link = outbox / "k" / "originals" / "link.pdf"
    assert link.is_symlink() and target.read_bytes() == b"secret" and target.exists()

"""The watcher: readiness rules on an injected clock, receipts, refusals, and an end-to-end run.

Step-driven tests call `poll()` and `run_job()` themselves (no threads, no sleeping); the
end-to-end tests run the real observer threads and poll the disk with a deadline.
"""

from __future__ import annotations

import io
import json
import os
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from packager.errors import ExitCode, NothingToPackage, StampError, WatchError
from packager.journal import FAILED_DIR, WORK_DIR
from packager.options import BuildOptions
from packager.watch import CaseJob, EventLog, StampJob, Watcher, serve


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def fake_package(case_dir: Path, out_dir: Path, options: BuildOptions) -> SimpleNamespace:
    names = sorted(p.name for p in case_dir.rglob("*") if p.is_file())
    if not names or any(n.startswith("bad") for n in names):
        raise NothingToPackage("every input was rejected")
    (out_dir / "upload").mkdir(parents=True)
    (out_dir / "upload" / "01.pdf").write_bytes(b"%PDF-" + b"x" * len(names))
    (out_dir / "manifest.json").write_text(json.dumps(names))
    return SimpleNamespace(upload_bytes=5 + len(names), page_count=len(names), exit_code=ExitCode.OK)


class Recorder:
    def __init__(self) -> None:
        self.lines: list[tuple[str, str, dict[str, object]]] = []

    def __call__(self, event: str, case: str = "", **fields: object) -> None:
        self.lines.append((event, case, fields))

    def events(self, case: str | None = None) -> list[str]:
        return [e for e, c, _ in self.lines if case is None or c == case]


@pytest.fixture
def boxes(tmp_path: Path) -> tuple[Path, Path]:
    inbox, outbox = tmp_path / "in", tmp_path / "out"
    inbox.mkdir()
    return inbox, outbox


def make_watcher(inbox: Path, outbox: Path, clock: object, **kw: object) -> tuple[Watcher, Recorder]:
    log = Recorder()
    args: dict[str, object] = {"settle_seconds": 60.0, "package_fn": fake_package, "stamp_fn": lambda o, r: None,
                               "clock": clock, "log": log}
    args.update(kw)
    w = Watcher(inbox, outbox, **args)  # type: ignore[arg-type]
    return w, log


def drive(w: Watcher) -> list[object]:
    """One scheduler step, then run what it claimed (as the worker threads would)."""
    return [w.run_job(job) for job in w.poll()]


def write(p: Path, data: bytes = b"x") -> None:
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(data)


def test_case_is_claimed_only_after_it_settled(boxes: tuple[Path, Path]) -> None:
    inbox, outbox = boxes
    clock = FakeClock()
    w, log = make_watcher(inbox, outbox, clock)
    write(inbox / "tanaka" / "p1.jpg")
    w.scan()
    assert drive(w) == []
    clock.advance(30)
    write(inbox / "tanaka" / "p2.jpg")  # the scanner is still writing
    assert drive(w) == []
    clock.advance(59)
    assert drive(w) == []
    clock.advance(1)
    [outcome] = drive(w)
    assert outcome.status == "done" and (outbox / "tanaka" / "originals" / "p2.jpg").exists()
    assert log.events("tanaka") == ["seen", "ready", "claimed", "started", "done"]
    w.close()


def test_an_event_restarts_the_settle_time(boxes: tuple[Path, Path]) -> None:
    inbox, outbox = boxes
    clock = FakeClock()
    w, _ = make_watcher(inbox, outbox, clock)
    write(inbox / "c" / "a.pdf")
    w.scan()
    drive(w)
    clock.advance(50)
    w.note("c")  # e.g. a write that did not change size or mtime yet
    assert drive(w) == []
    clock.advance(50)
    assert drive(w) == []
    w.note("c", noise=True)  # Finder touching .DS_Store is not activity
    clock.advance(10)
    assert len(drive(w)) == 1
    w.close()


def test_ready_marker_claims_at_once_and_junk_never_reaches_the_library(boxes: tuple[Path, Path]) -> None:
    inbox, outbox = boxes
    clock = FakeClock()
    w, log = make_watcher(inbox, outbox, clock)
    for name in ("a.pdf", ".DS_Store", "Thumbs.db", "~$note.docx", "x.tmp", "@eaDir/a.pdf@SynoEAStream", "READY"):
        write(inbox / "sato" / name)
    w.scan()
    [outcome] = drive(w)
    assert outcome.status == "done"
    assert json.loads((outbox / "sato" / "manifest.json").read_text()) == ["a.pdf"]
    ignored = {str(p.relative_to(outbox / "sato" / "ignored")) for p in (outbox / "sato" / "ignored").rglob("*")
               if p.is_file()}
    assert ignored == {".DS_Store", "READY", "Thumbs.db", "@eaDir/a.pdf@SynoEAStream", "x.tmp", "~$note.docx"}
    assert ("ready", "sato", {"by": "READY", "files": 1}) in log.lines
    w.close()


def test_empty_and_junk_only_folders_are_not_cases(boxes: tuple[Path, Path]) -> None:
    inbox, outbox = boxes
    clock = FakeClock()
    w, _ = make_watcher(inbox, outbox, clock)
    (inbox / "empty").mkdir()
    write(inbox / "junk" / ".DS_Store")
    w.scan()
    drive(w)
    clock.advance(3600)
    assert drive(w) == []
    assert sorted(p.name for p in inbox.iterdir()) == ["empty", "junk"]
    w.close()


def test_loose_file_becomes_its_own_case(boxes: tuple[Path, Path]) -> None:
    inbox, outbox = boxes
    clock = FakeClock()
    w, log = make_watcher(inbox, outbox, clock)
    write(inbox / "scan0001.pdf", b"%PDF-1")
    write(inbox / ".DS_Store")  # loose junk: left alone
    w.scan()
    assert drive(w) == []
    clock.advance(60)
    assert drive(w) == []  # wrapped now…
    assert (inbox / "scan0001" / "scan0001.pdf").exists()
    [outcome] = drive(w)  # …and claimed at once: its content has already settled
    assert outcome.status == "done"
    assert (outbox / "scan0001" / "originals" / "scan0001.pdf").read_bytes() == b"%PDF-1"
    assert [p.name for p in inbox.iterdir()] == [".DS_Store"]
    assert "loose-wrapped" in log.events("scan0001")
    w.close()


def test_top_level_symlink_is_left_and_reported_once(boxes: tuple[Path, Path], tmp_path: Path) -> None:
    inbox, outbox = boxes
    clock = FakeClock()
    write(tmp_path / "elsewhere" / "a.pdf")
    os.symlink(tmp_path / "elsewhere", inbox / "linked")
    w, log = make_watcher(inbox, outbox, clock)
    for _ in range(3):
        w.scan()
        clock.advance(120)
        assert drive(w) == []
    assert (inbox / "linked").is_symlink() and (tmp_path / "elsewhere" / "a.pdf").exists()
    assert log.events("linked") == ["skipped"]
    w.close()


def test_bad_case_goes_to_failed_and_the_loop_goes_on(boxes: tuple[Path, Path]) -> None:
    inbox, outbox = boxes
    clock = FakeClock()
    w, log = make_watcher(inbox, outbox, clock, workers=2)
    write(inbox / "bad1" / "bad.bin")
    write(inbox / "bad1" / "READY")
    write(inbox / "good" / "a.pdf")
    write(inbox / "good" / "READY")
    w.scan()
    outcomes = drive(w)
    assert sorted(o.status for o in outcomes) == ["done", "failed"]
    assert "every input was rejected" in (outbox / FAILED_DIR / "bad1" / "reason.txt").read_text()
    assert (outbox / "good" / "manifest.json").exists()
    failed = [f for e, c, f in log.lines if e == "failed"]
    assert failed and "every input was rejected" in str(failed[0]["reason"])
    w.close()


def test_claims_no_more_than_the_workers_can_start(boxes: tuple[Path, Path]) -> None:
    inbox, outbox = boxes
    clock = FakeClock()
    w, _ = make_watcher(inbox, outbox, clock, workers=1)
    for name in ("a", "b", "c"):
        write(inbox / name / "x.pdf")
        write(inbox / name / "READY")
    w.scan()
    jobs = w.poll()
    assert len(jobs) == 1 and len(list(inbox.iterdir())) == 2  # the others wait, safely, in INBOX
    w.run_job(jobs[0])
    assert len(w.poll()) == 1
    w.close()


def test_restart_resumes_claimed_cases(boxes: tuple[Path, Path]) -> None:
    inbox, outbox = boxes
    clock = FakeClock()
    w, _ = make_watcher(inbox, outbox, clock)
    write(inbox / "a" / "x.pdf")
    write(inbox / "a" / "READY")
    w.scan()
    [job] = w.poll()
    assert isinstance(job, CaseJob)
    w.close()  # "killed" before the worker started
    w2, log2 = make_watcher(inbox, outbox, clock)
    jobs = w2.recover()
    assert log2.events("a") == ["recovering"]
    [outcome] = [w2.run_job(j) for j in jobs]
    assert outcome.status == "done" and list((outbox / WORK_DIR).iterdir()) == [Path(outbox / WORK_DIR / ".lock")]
    w2.close()


def test_receipt_is_stamped_once_and_restamped_when_changed(boxes: tuple[Path, Path]) -> None:
    inbox, outbox = boxes
    clock = FakeClock()
    stamped: list[tuple[str, str]] = []
    w, log = make_watcher(inbox, outbox, clock, stamp_fn=lambda out, r: stamped.append((out.name, r)))
    write(inbox / "a" / "x.pdf")
    write(inbox / "a" / "READY")
    w.scan()
    drive(w)
    (outbox / "a" / "receipt.txt").write_text("\ufeff福オンＥＮ25001878\n", encoding="utf-8")
    w.scan()
    assert drive(w) == []  # waits for the receipt file to settle too
    clock.advance(60)
    jobs = w.poll()
    assert [type(j) for j in jobs] == [StampJob]
    w.run_job(jobs[0])
    assert stamped == [("a", "福オンＥＮ25001878")]
    for _ in range(2):  # a rescan, or a restart, does not repeat it
        w.scan()
        clock.advance(60)
        drive(w)
    assert len(stamped) == 1
    (outbox / "a" / "receipt.txt").write_text("福オンＥＮ25009999\n", encoding="utf-8")
    w.scan()
    drive(w)
    clock.advance(60)
    drive(w)
    assert stamped[-1] == ("a", "福オンＥＮ25009999") and len(stamped) == 2
    assert log.events("a").count("stamped") == 2
    w.close()


def test_stamp_failure_is_reported_beside_the_receipt(boxes: tuple[Path, Path]) -> None:
    inbox, outbox = boxes
    clock = FakeClock()

    def refuse(out: Path, receipt: str) -> None:
        raise StampError(f"{receipt}: not a receipt number")

    w, log = make_watcher(inbox, outbox, clock, stamp_fn=refuse, settle_seconds=0)
    write(outbox / "a" / "manifest.json", b"{}")
    (outbox / "a" / "receipt.txt").write_text("oops\n")
    w.scan()
    drive(w)
    assert "not a receipt number" in (outbox / "a" / "receipt-error.txt").read_text()
    w.scan()
    assert w.poll() == []  # not retried until the receipt changes
    assert log.events("a") == ["stamp-failed"]
    w.close()


def test_nested_folders_are_refused(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    for inbox, outbox in ((tmp_path / "in", tmp_path / "in" / "out"), (tmp_path / "in", tmp_path / "in"),
                          (tmp_path / "in" / "sub", tmp_path / "in")):
        inbox.mkdir(exist_ok=True)
        with pytest.raises(WatchError) as e:
            Watcher(inbox, outbox, package_fn=fake_package)
        assert e.value.exit_code == ExitCode.WATCH_ERROR and "\n" not in str(e.value)
    with pytest.raises(WatchError, match="not a folder"):
        Watcher(tmp_path / "missing", tmp_path / "o", package_fn=fake_package)


def test_second_watcher_on_one_outbox_is_refused(boxes: tuple[Path, Path]) -> None:
    inbox, outbox = boxes
    w, _ = make_watcher(inbox, outbox, FakeClock())
    with pytest.raises(WatchError, match="another packager watch"):
        make_watcher(inbox, outbox, FakeClock())
    w.close()
    make_watcher(inbox, outbox, FakeClock())[0].close()


def test_event_log_text_and_json() -> None:
    buf = io.StringIO()
    EventLog(buf, wall_clock=lambda: 0)("failed", "tanaka", reason="every input rejected", bytes=3)
    line = buf.getvalue()
    assert line.count("\n") == 1 and ' failed case=tanaka reason="every input rejected" bytes=3' in line
    buf = io.StringIO()
    EventLog(buf, json_lines=True, wall_clock=lambda: 0)("done", "佐藤", out=Path("/o/佐藤"), pages=4)
    record = json.loads(buf.getvalue())
    assert record["event"] == "done" and record["case"] == "佐藤"
    assert record["out"] == "/o/佐藤" and record["pages"] == 4


def wait_for(predicate, timeout: float = 20.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)  # polling the disk with a deadline, not a timed assertion
    return predicate()


@pytest.mark.parametrize("polling", [False, True])
def test_end_to_end_with_real_threads(boxes: tuple[Path, Path], polling: bool) -> None:
    inbox, outbox = boxes
    w, log = make_watcher(inbox, outbox, time.monotonic, settle_seconds=0.3)
    stop = threading.Event()
    t = threading.Thread(target=w.run, args=(stop,), kwargs={"polling": polling})
    t.start()
    try:
        write(inbox / "early" / "a.pdf")  # by settle time
        write(inbox / "ready" / "a.pdf")
        write(inbox / "ready" / "READY")
        write(inbox / "loose.pdf")
        write(inbox / "bad" / "bad.bin")
        assert wait_for(lambda: all((outbox / n / "manifest.json").exists() for n in ("early", "ready", "loose")))
        assert wait_for(lambda: (outbox / FAILED_DIR / "bad" / "reason.txt").exists())
    finally:
        stop.set()
        w.wake()
        t.join(timeout=30)
    assert not t.is_alive()
    assert list(inbox.iterdir()) == []
    assert [p.name for p in (outbox / WORK_DIR).iterdir()] == [".lock"]
    assert log.events()[-1] == "stopped"


def test_serve_returns_zero_when_stopped(boxes: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    inbox, outbox = boxes
    stop = threading.Event()
    stop.set()
    assert serve(inbox, outbox, options=BuildOptions(), settle_seconds=1, stop=stop) == 0


@pytest.mark.slow
def test_serve_packages_with_the_real_library_and_stops_on_sigterm(boxes: tuple[Path, Path]) -> None:
    import signal

    from PIL import Image, ImageDraw

    inbox, outbox = boxes
    im = Image.new("L", (1654, 2339), 255)
    ImageDraw.Draw(im).text((100, 100), "Certificate of employment", fill=0)
    (inbox / "yamada").mkdir()
    im.save(inbox / "yamada" / "p1.jpg", quality=80, dpi=(200, 200))
    (inbox / "yamada" / "READY").write_bytes(b"")

    def terminate_when_done() -> None:
        wait_for(lambda: (outbox / "yamada" / "manifest.json").exists(), timeout=120)
        os.kill(os.getpid(), signal.SIGTERM)

    t = threading.Thread(target=terminate_when_done)
    t.start()
    assert serve(inbox, outbox, options=BuildOptions(jobs=1), settle_seconds=0.2) == 0  # in the main thread
    t.join()
    assert (outbox / "yamada" / "originals" / "p1.jpg").exists()
    assert list(inbox.iterdir()) == []
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # handlers restored

"""Soak test of `packager watch`: a scanner-like producer, SIGKILLs at random moments, then verify.

    python bench/soak.py                    # 30 cases, ≥10 SIGKILLs, inotify, the real library
    python bench/soak.py --polling          # the same with watchdog's PollingObserver
    python bench/soak.py --kills 0 --prefill   # throughput of the watcher alone (cases per minute)
    python bench/soak.py --fake-package     # the watcher with a stand-in library (tests the watcher alone)

The producer writes each case file by file in small chunks with pauses, as a scanner does; half
the cases end with READY, the others become ready by settle time; some carry OS and scanner junk;
two cases are bad (nothing usable; a malformed case.toml) and two files are dropped loose into
INBOX. Meanwhile the watcher runs as a subprocess (`python -m packager watch …`, in its own
process group) and is killed with SIGKILL at random moments, then restarted. At the end:

* every good case has exactly one complete OUTBOX/<case>/ whose upload fits the manifest's limit;
* every original is under originals/ with its digest unchanged (junk and READY under ignored/);
* the bad cases are in OUTBOX/_failed/<case>/ with reason.txt, their files unchanged;
* nothing is left in INBOX or in the work area, and no temporary file exists anywhere.

It prints cases per minute and the idle CPU and memory of the last watcher process. Exit 0 when
every check passed.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[1]
JUNK = {".DS_Store": b"\0\0\0\1Bud1", "Thumbs.db": b"\xd0\xcf\x11\xe0", "~$letter.docx": b"lock", "scan.tmp": b"t"}


def page_bytes(rng: random.Random, fmt: str) -> bytes:
    """A small scanned-looking A4 page at 200 dpi: lines of text on white."""
    im = Image.new("L", (1654, 2339), 255)
    d = ImageDraw.Draw(im)
    for y in range(150, 2200, 45):
        d.text((120, y), f"Certificate of employment {rng.randrange(10**8):08d} line {y}", fill=0)
    buf = io.BytesIO()
    if fmt == "png":
        im.convert("1").save(buf, "PNG", dpi=(200, 200))
    else:
        im.save(buf, "JPEG", quality=75, dpi=(200, 200))
    return buf.getvalue()


def write_slowly(path: Path, data: bytes, rng: random.Random, chunk: int = 16384) -> None:
    """As a scanner over SMB: the file grows in chunks with small pauses."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        for i in range(0, len(data), chunk):
            f.write(data[i:i + chunk])
            f.flush()
            time.sleep(rng.uniform(0.005, 0.03))


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class Producer(threading.Thread):
    def __init__(self, inbox: Path, n_cases: int, seed: int) -> None:
        super().__init__(daemon=True)
        self.inbox = inbox
        self.n_cases = n_cases
        self.rng = random.Random(seed)
        self.good: dict[str, dict[str, str]] = {}  # case → {relpath: sha256} of its inputs
        self.junk: dict[str, dict[str, str]] = {}  # case → junk and READY it carried
        self.bad: dict[str, dict[str, str]] = {}
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self._run()
        except BaseException as e:  # reported by the main thread
            self.error = e

    def _case(self, name: str, files: dict[str, bytes], ready: bool, junk: bool) -> tuple[dict[str, str],
                                                                                        dict[str, str]]:
        inputs: dict[str, str] = {}
        extra: dict[str, str] = {}
        for rel, data in files.items():
            write_slowly(self.inbox / name / rel, data, self.rng)
            inputs[rel] = sha(data)
            time.sleep(self.rng.uniform(0.05, 0.4))  # the next sheet goes through the feeder
        if junk:
            for rel, data in self.rng.sample(sorted(JUNK.items()), 2):
                (self.inbox / name / rel).write_bytes(data)
                extra[rel] = sha(data)
        if ready:
            (self.inbox / name / "READY").write_bytes(b"")
            extra["READY"] = sha(b"")
        return inputs, extra

    def _run(self) -> None:
        bad_at = {self.n_cases // 3: "bad-nothing", 2 * self.n_cases // 3: "bad-profile"}
        loose_at = {self.n_cases // 4: "loose-scan-a.jpg", self.n_cases // 2: "loose-scan-b.jpg"}
        for i in range(self.n_cases):
            name = f"case-{i:02d}"
            n_files = self.rng.randint(1, 3)
            files = {f"p{k}.{'png' if k % 2 else 'jpg'}": page_bytes(self.rng, "png" if k % 2 else "jpg")
                     for k in range(n_files)}
            if i % 5 == 0:
                files["sub/extra.jpg"] = page_bytes(self.rng, "jpg")
            inputs, extra = self._case(name, files, ready=i % 2 == 0, junk=i % 3 == 0)
            self.good[name] = inputs
            self.junk[name] = extra
            if i in bad_at:
                bad = bad_at[i]
                if bad == "bad-nothing":
                    payload = {"notes.txt": b"just some text, not a scan\n", "broken.pdf": b"%PDF-1.4\n%%EOF"[:6]}
                else:
                    payload = {"p0.jpg": page_bytes(self.rng, "jpg"), "case.toml": b"application = [unclosed\n"}
                inputs, extra = self._case(bad, payload, ready=True, junk=False)
                self.bad[bad] = inputs | extra
            if i in loose_at:
                data = page_bytes(self.rng, "jpg")
                write_slowly(self.inbox / loose_at[i], data, self.rng)
                self.good[Path(loose_at[i]).stem] = {loose_at[i]: sha(data)}
                self.junk[Path(loose_at[i]).stem] = {}
            time.sleep(self.rng.uniform(0.1, 0.6))


def digests(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): sha(p.read_bytes())
            for p in sorted(root.rglob("*")) if p.is_file() and not p.is_symlink()}


def watcher_cmd(args: argparse.Namespace, inbox: Path, outbox: Path) -> list[str]:
    if args.fake_package:
        cmd = [sys.executable, str(Path(__file__).resolve()), "--child-fake", str(inbox), str(outbox),
               "--settle", str(args.settle)]
    else:
        cmd = [sys.executable, "-m", "packager", "watch", str(inbox), "--out", str(outbox), "--settle",
               str(args.settle), "--log-json", "--jobs", str(args.jobs)]
    return cmd + (["--polling"] if args.polling else [])


def start(cmd: list[str], log: Path) -> subprocess.Popen[bytes]:
    with open(log, "ab") as f:
        # Its own process group: SIGKILL reaches the library's worker processes too, as systemd would.
        return subprocess.Popen(cmd, cwd=ROOT, stdout=f, stderr=f, start_new_session=True)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def verify(prod: Producer, inbox: Path, outbox: Path) -> list[str]:
    problems: list[str] = []
    results = sorted(p.name for p in outbox.iterdir() if p.name not in (".work", "_failed"))
    if results != sorted(prod.good):
        problems.append(f"OUTBOX holds {results}, expected exactly {sorted(prod.good)}")
    for case, inputs in prod.good.items():
        res = outbox / case
        manifest = res / "manifest.json"
        if not manifest.is_file():
            problems.append(f"{case}: no manifest.json")
            continue
        m = json.loads(manifest.read_text())
        upload = sum(p.stat().st_size for p in (res / "upload").iterdir() if p.is_file())
        if upload > int(m.get("limit_bytes", 25_000_000)) or upload == 0:
            problems.append(f"{case}: upload {upload} bytes does not fit {m.get('limit_bytes')}")
        if digests(res / "originals") != inputs:
            problems.append(f"{case}: originals differ from what was written")
        ignored = digests(res / "ignored") if (res / "ignored").exists() else {}
        if ignored != prod.junk[case]:
            problems.append(f"{case}: ignored/ holds {sorted(ignored)}, expected {sorted(prod.junk[case])}")
    failed = sorted(p.name for p in (outbox / "_failed").iterdir())
    if failed != sorted(prod.bad):
        problems.append(f"_failed holds {failed}, expected {sorted(prod.bad)}")
    for case, files in prod.bad.items():
        got = digests(outbox / "_failed" / case)
        reason = got.pop("reason.txt", None)
        if not reason or not (outbox / "_failed" / case / "reason.txt").read_text().strip():
            problems.append(f"_failed/{case}: no reason.txt")
        if got != files:
            problems.append(f"_failed/{case}: files differ from what was written")
    left = sorted(p.name for p in inbox.iterdir())
    if left:
        problems.append(f"left in INBOX: {left}")
    work = sorted(p.name for p in (outbox / ".work").iterdir() if p.name != ".lock")
    if work:
        problems.append(f"left in the work area: {work}")
    temps = [str(p) for root in (inbox, outbox) for p in root.rglob("*")
             if p.name.startswith((".tmp-", ".packager-")) or p.name.endswith(".partial")]
    if temps:
        problems.append(f"temporary files: {temps[:5]}")
    return problems


def soak(args: argparse.Namespace) -> int:
    base = Path(args.dir or f"/tmp/packager-soak-{os.getpid()}").resolve()
    inbox, outbox, log = base / "inbox", base / "outbox", base / "watch.log"
    inbox.mkdir(parents=True)
    outbox.mkdir()
    rng = random.Random(args.seed)
    cmd = watcher_cmd(args, inbox, outbox)
    print(f"soak: {base}  watcher: {' '.join(cmd)}", flush=True)
    prod = Producer(inbox, args.cases, args.seed)
    if args.prefill:  # measure the watcher alone: every case is waiting when it starts
        prod.run()
    t0 = time.monotonic()
    proc = start(cmd, log)
    if not args.prefill:
        prod.start()
    kills = 0
    while kills < args.kills:
        time.sleep(rng.uniform(args.kill_min, args.kill_max))
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        kills += 1
        time.sleep(rng.uniform(0, 0.5))
        proc = start(cmd, log)
    if not args.prefill:
        prod.join()
    if prod.error:
        raise prod.error
    expected = len(prod.good) + len(prod.bad)

    def finished() -> int:
        # A case counts once it reached either end; verify() then checks it reached the right one.
        cases = list(prod.good) + list(prod.bad)
        return sum((outbox / c / "manifest.json").is_file() or (outbox / "_failed" / c / "reason.txt").is_file()
                   for c in cases)

    deadline = time.monotonic() + args.timeout
    while finished() < expected and time.monotonic() < deadline:
        time.sleep(0.2)
    elapsed = time.monotonic() - t0
    # Idle: let the last case settle, then sample CPU and memory of the watcher (not its children).
    time.sleep(3)
    cpu0, w0 = cpu_seconds(proc.pid), time.monotonic()
    time.sleep(args.idle_seconds)
    idle_cpu = (cpu_seconds(proc.pid) - cpu0) / (time.monotonic() - w0) * 100
    rss = rss_mb(proc.pid)
    proc.send_signal(signal.SIGTERM)
    rc = proc.wait(timeout=60)
    problems = verify(prod, inbox, outbox)
    if rc != 0:
        problems.append(f"watcher exited {rc} on SIGTERM, expected 0")
    n_log = sum(1 for _ in log.open(encoding="utf-8", errors="replace"))
    print(f"cases: {len(prod.good)} good + {len(prod.bad)} bad, {kills} SIGKILLs, "
          f"observer={'polling' if args.polling else 'native'}, library={'fake' if args.fake_package else 'real'}")
    print(f"finished {finished()}/{expected} in {elapsed:.1f} s: {expected / elapsed * 60:.1f} cases/minute "
          + ("(all cases waiting at start)" if args.prefill else "(producer pauses and restarts included)"))
    print(f"idle watcher: {idle_cpu:.2f} % CPU over {args.idle_seconds:.0f} s, RSS {rss:.1f} MB; log {n_log} lines")
    for p in problems:
        print("FAIL:", p)
    print("PASS" if not problems else f"{len(problems)} problem(s)")
    return 0 if not problems else 1


def child_fake(argv: list[str]) -> int:
    """A watcher process with a stand-in library (fast; for testing the watcher alone)."""
    p = argparse.ArgumentParser()
    p.add_argument("inbox", type=Path)
    p.add_argument("outbox", type=Path)
    p.add_argument("--settle", type=float)
    p.add_argument("--polling", action="store_true")
    a = p.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    from types import SimpleNamespace

    from packager import watch
    from packager.errors import ExitCode, NothingToPackage, ProfileError

    def fake(case_dir: Path, out_dir: Path, options: object) -> SimpleNamespace:
        names = sorted(q for q in case_dir.rglob("*") if q.is_file())
        if (case_dir / "case.toml").exists():
            raise ProfileError(str(case_dir / "case.toml"), "application", "malformed TOML")
        images = [q for q in names if q.read_bytes()[:3] in (b"\xff\xd8\xff", b"\x89PN")]
        if not images:
            raise NothingToPackage("every input was rejected")
        (out_dir / "upload").mkdir(parents=True)
        data = b"%PDF-" + b"".join(q.read_bytes()[:1000] for q in images)
        (out_dir / "upload" / "01.pdf").write_bytes(data)
        time.sleep(0.3)  # a build takes a while: give SIGKILL something to interrupt
        (out_dir / "manifest.json").write_text(json.dumps({"limit_bytes": 25_000_000}))
        return SimpleNamespace(upload_bytes=len(data), page_count=len(images), exit_code=ExitCode.OK)

    w = watch.Watcher(a.inbox, a.outbox, settle_seconds=a.settle, package_fn=fake,
                      log=watch.EventLog(json_lines=True))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: (stop.set(), w.wake()))
    w.run(stop, polling=a.polling)
    return 0


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--child-fake":
        return child_fake(sys.argv[2:])
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cases", type=int, default=30)
    p.add_argument("--kills", type=int, default=12)
    p.add_argument("--kill-min", type=float, default=1.5, help="seconds between kills, at least")
    p.add_argument("--kill-max", type=float, default=6.0)
    p.add_argument("--settle", type=float, default=2.0)
    p.add_argument("--polling", action="store_true")
    p.add_argument("--fake-package", action="store_true")
    p.add_argument("--prefill", action="store_true", help="write every case before the watcher starts")
    p.add_argument("--jobs", type=int, default=1, help="--jobs passed to the watcher's library call")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--timeout", type=float, default=600)
    p.add_argument("--idle-seconds", type=float, default=10)
    p.add_argument("--dir", help="work folder (default /tmp/packager-soak-PID)")
    return soak(p.parse_args())


if __name__ == "__main__":
    sys.exit(main())

"""Benchmark of `packager desk` on the heavy bundle (120 pages): first and later views, start-up, RSS.

    python bench/desk.py [--work DIR] [--reuse] [--browser/--no-browser]

The heavy case (fixtures.generate, seed 3) is dropped into an INBOX with READY and built by a
real `packager watch` (so OUTBOX/heavy/ has originals/ for the dropped-page thumbnails). Then a
`packager desk` process serves it, and the case page is fetched as a browser does: the HTML,
then every thumbnail, six at a time. The first view renders every thumbnail (cache emptied
first); later views read them from the case's .packager/thumbs/. With chromium present the same
two views are also timed in a real browser (Playwright, until every image has loaded).

Targets (issue 10): first view < 10 s, later views < 1 s, desk RSS < 250 MB. No peer to compare
with here (the desk renders pages for people, Ghostscript has nothing alike), so times are
absolute, on this machine, with whatever else it is running (say so when reporting).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fixtures.generate import make_case  # noqa: E402

CHROMIUM = Path("/usr/bin/chromium")
CASE = "heavy"


def _packager(*args: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if k != "PACKAGER_DESK_TOKEN"}
    return subprocess.Popen([sys.executable, "-m", "packager", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True, env=env, cwd=ROOT)


def _stop(proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=120)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def build_with_watcher(work: Path) -> Path:
    source, inbox, outbox = work / "source" / CASE, work / "INBOX", work / "OUTBOX"
    if not source.is_dir():
        make_case(CASE, source, seed=3)
    for folder in (inbox, outbox):
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
    staging = inbox / f".copy-{CASE}"
    shutil.copytree(source, staging)
    (staging / "READY").write_bytes(b"")
    watch = _packager("watch", str(inbox), "--out", str(outbox), "--settle", "2")
    started = time.perf_counter()
    try:
        staging.rename(inbox / CASE)
        while not (outbox / CASE / "manifest.json").is_file():
            if watch.poll() is not None or time.perf_counter() - started > 1200:
                raise SystemExit("the watcher did not build the heavy case")
            time.sleep(0.5)
    finally:
        _stop(watch)
    print(f"built {CASE} with packager watch in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    return outbox


def _get(url: str) -> int:
    with urllib.request.urlopen(url, timeout=120) as r:
        return len(r.read())


def http_view(base: str) -> tuple[float, int, int]:
    """Seconds for the case page and all its images (6 connections, as a browser), images, bytes."""
    started = time.perf_counter()
    with urllib.request.urlopen(f"{base}/case/{CASE}", timeout=120) as r:
        html = r.read().decode()
    images = re.findall(r'<img src="([^"]+)"', html)
    with concurrent.futures.ThreadPoolExecutor(6) as pool:
        sizes = list(pool.map(lambda u: _get(base + u), images))
    return time.perf_counter() - started, len(images), len(html) + sum(sizes)


def browser_views(base: str, outbox: Path) -> list[float]:
    from playwright.sync_api import sync_playwright

    times = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        for i in range(3):
            if i == 0:
                shutil.rmtree(outbox / CASE / ".packager" / "thumbs", ignore_errors=True)
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            started = time.perf_counter()
            page.goto(f"{base}/case/{CASE}")  # until the load event: the first screen's thumbnails
            if i == 0:  # the first view: every thumbnail, as if scrolled through (they load lazily)
                page.evaluate("() => document.querySelectorAll('img').forEach(i => { i.loading = 'eager'; })")
                page.wait_for_function(
                    "() => Array.from(document.images).every(i => i.complete && i.naturalWidth > 0)", timeout=120_000
                )
            times.append(time.perf_counter() - started)
            page.close()
        browser.close()
    return times


def rss_mb(pid: int) -> tuple[float, float]:
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--work", type=Path, default=None, help="work folder (default: a temporary one)")
    ap.add_argument("--reuse", action="store_true", help="reuse WORK/OUTBOX/heavy if it is built")
    ap.add_argument("--browser", action=argparse.BooleanOptionalAction, default=CHROMIUM.exists(),
                    help="also time the views in chromium (default: when /usr/bin/chromium exists)")
    args = ap.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="packager-bench-desk-"))
    outbox = work / "OUTBOX"
    if not (args.reuse and (outbox / CASE / "manifest.json").is_file()):
        outbox = build_with_watcher(work)
    shutil.rmtree(outbox / CASE / ".packager" / "thumbs", ignore_errors=True)

    started = time.perf_counter()
    desk = _packager("desk", str(outbox), "--port", "0")
    assert desk.stdout is not None
    line = desk.stdout.readline()
    startup = time.perf_counter() - started
    base = line.split()[2].rstrip("/")
    try:
        first, images, size = http_view(base)
        later = [http_view(base)[0] for _ in range(3)]
        started = time.perf_counter()
        _get(f"{base}/case/{CASE}/-/upload.zip")
        zip_s = time.perf_counter() - started
        started = time.perf_counter()
        _get(f"{base}/")
        list_s = time.perf_counter() - started
        in_browser = browser_views(base, outbox) if args.browser else []
        rss, peak = rss_mb(desk.pid)
    finally:
        _stop(desk)
    ok = first < 10 and max(later) < 1 and peak < 250
    print(f"desk on {CASE} ({images} images, {size / 1e6:.1f} MB sent per view), {os.cpu_count()} cores:")
    print(f"  start-up until the address is printed   {startup:6.2f} s   (target < 2 s)")
    print(f"  first view, thumbnails rendered (HTTP)  {first:6.2f} s   (target < 10 s)")
    each = ", ".join(f"{t:.2f}" for t in later)
    print(f"  later views (HTTP), worst of 3          {max(later):6.2f} s   (target < 1 s)  [{each}]")
    if in_browser:
        print(f"  first view in chromium, every image     {in_browser[0]:6.2f} s")
        print(f"  later views in chromium (load event)    {max(in_browser[1:]):6.2f} s   worst of 2")
    print(f"  case list                               {list_s:6.2f} s")
    print(f"  upload zip ({CASE})                      {zip_s:6.2f} s")
    print(f"  desk RSS now / peak                     {rss:6.0f} / {peak:.0f} MB   (target < 250 MB)")
    print("PASS" if ok else "FAIL")
    if args.work is None:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

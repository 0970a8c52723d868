"""The desk in a real browser: Playwright drives Debian's chromium (nothing is downloaded).

`packager watch` and `packager desk` run as processes on temporary folders, as an office runs
them. Through the page: create a case, wait for the watcher to build it, read its checklist and
thumbnails, stamp the receipt number, download the upload set. Checked against the files: the
originals are the bytes sent, the mailed PDFs carry the number (pdftotext), the zip is OUT/upload.
The screenshots of docs/desk/ are taken here: with PACKAGER_DESK_SCREENSHOTS=1 they replace the
committed ones (they hold the time of the run), otherwise they go to the test's temporary folder.
"""

from __future__ import annotations

import io
import os
import shutil
import signal
import subprocess
import sys
import time
import unicodedata
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from fixtures.generate import make_case

CHROMIUM = Path("/usr/bin/chromium")
FILES = ["passport.jpg", "photo.jpg", "scan0001.pdf", "01_employment-certificate.pdf"]
RECEIPT = "福オンＥＮ25001878"
DOCS = Path(__file__).resolve().parents[1] / "docs" / "desk"
SAVE_DOCS = os.environ.get("PACKAGER_DESK_SCREENSHOTS") == "1"
EAGER = "() => document.querySelectorAll('img').forEach(i => { i.loading = 'eager'; })"
ALL_LOADED = "() => Array.from(document.images).every(i => i.complete && i.naturalWidth > 0)"
pytestmark = pytest.mark.slow


def _sync_playwright():  # type: ignore[no-untyped-def]
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail("chromium is missing: scripts/setup.sh installs it")
        pytest.skip("no /usr/bin/chromium (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    return sync_playwright()


def _start(args: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "packager", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)


def _stop(proc: subprocess.Popen[str]) -> int:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            return proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
    return proc.wait()


@pytest.fixture
def services(tmp_path: Path) -> Iterator[tuple[str, Path, Path, subprocess.Popen[str], subprocess.Popen[str]]]:
    inbox, outbox = tmp_path / "INBOX", tmp_path / "OUTBOX"
    inbox.mkdir()
    outbox.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "PACKAGER_DESK_TOKEN"}
    # 0.25 MB: the limit that sends the passport and the certificate by post, so there is a kit to stamp.
    watch = _start(["watch", str(inbox), "--out", str(outbox), "--settle", "2", "--limit", "0.25MB", "--jobs", "1"],
                   env)
    desk = _start(["desk", str(outbox), "--inbox", str(inbox), "--port", "0"], env)
    assert desk.stdout is not None
    line = desk.stdout.readline()  # the first line names the address (it blocks until the desk listens)
    assert line.startswith("packager desk: http://127.0.0.1:"), line + (desk.stderr.read() if desk.stderr else "")
    url = line.split()[2].rstrip("/")
    try:
        yield url, inbox, outbox, watch, desk
    finally:
        codes = (_stop(desk), _stop(watch))
        assert codes == (0, 0), codes  # Ctrl-C stops both cleanly


CASE_TOML = """application = "extension"
status = "engineer-humanities-international"
[applicant]
name = "{name}"
[documents]
"scan0001.pdf" = "employment-contract"
"""


def _drop_case(inbox: Path, name: str, files: dict[str, bytes]) -> None:
    staging = inbox / f".staging-{name}"  # hidden: the watcher waits for the rename
    staging.mkdir()
    for file_name, data in files.items():
        (staging / file_name).write_bytes(data)
    (staging / "READY").write_bytes(b"")
    staging.rename(inbox / name)


def _wait(predicate, seconds: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def test_a_case_from_the_browser_to_the_stamped_kit(services, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    url, inbox, outbox, _watch, _desk = services
    scans = tmp_path / "scans"
    make_case("small", scans, only=FILES)
    (scans / "case.toml").unlink()  # the case fields come from the form instead
    sent = {p.name: p.read_bytes() for p in scans.iterdir()}
    # Beside it, cases dropped into INBOX the usual way, so the list holds every state.
    _drop_case(inbox, "yamada", {**sent, "case.toml": CASE_TOML.format(name="YAMADA TARO").encode()})  # mailed
    _drop_case(inbox, "suzuki", {"photo.jpg": sent["photo.jpg"],
                                 "case.toml": CASE_TOML.format(name="SUZUKI ICHIRO").encode()})  # ready
    _drop_case(inbox, "sato", {"passport.jpg": sent["passport.jpg"],
                               "case.toml": b'application = "visa"\n'})  # failed, with the reason

    with _sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 900}, accept_downloads=True)

        page.goto(url + "/new")
        page.set_input_files("#files", [str(scans / n) for n in sorted(sent)])
        page.fill("#case", "miller")
        page.select_option("#application", "extension")
        page.fill("#status", "engineer-humanities-international")
        page.fill("#applicant_name", "MILLER JAMES ROBERT")
        page.fill("#nationality", "United States")
        page.fill("#birth_date", "1987-03-05")
        page.click("#submit-case")
        page.wait_for_selector("text=Case saved")

        # The list refreshes itself: the case appears, and turns "needs mailing" once built.
        page.goto(url + "/")
        page.wait_for_selector("tr.state-needs-mailing >> text=miller", timeout=180_000)
        for state, name in (("needs-mailing", "yamada"), ("ready", "suzuki"), ("failed", "sato")):
            page.wait_for_selector(f"tr.state-{state} >> text={name}", timeout=180_000)
        assert "unknown application 'visa'" in page.inner_text("tr.state-failed")

        page.click("text=miller")
        page.wait_for_selector("#checklist")
        assert "旅券" in page.inner_text("#checklist")
        page.evaluate(EAGER)  # thumbnails load lazily, as the page is scrolled; here: all of them
        page.wait_for_function(ALL_LOADED, timeout=60_000)
        thumbs = page.eval_on_selector_all("#upload img", "els => els.length")
        assert thumbs >= 3
        assert page.eval_on_selector_all("#dropped img", "els => els.length") == 1  # the blank back, shown

        shots = DOCS if SAVE_DOCS else tmp_path
        page.get_by_label("Receipt number / 申請受付番号").fill(RECEIPT)
        page.get_by_label("Filing date / 申請日 (optional / 任意)").fill("2026-12-01")
        page.get_by_role("button", name="Stamp").click()
        page.wait_for_selector("text=Stamped.")
        page.evaluate(EAGER)
        page.wait_for_function(ALL_LOADED)
        page.screenshot(path=str(shots / "case.png"), full_page=True)

        with page.expect_download() as info:
            page.click("text=Upload set / アップロード一式 (zip)")
        zipped = Path(info.value.path()).read_bytes()

        page.goto(url + "/")
        assert page.inner_text("tr.state-stamped").count(RECEIPT) == 1  # the list knows it is stamped
        page.screenshot(path=str(shots / "cases.png"))
        browser.close()

    out = outbox / "miller"
    with zipfile.ZipFile(io.BytesIO(zipped)) as zf:
        assert {n: zf.read(n) for n in zf.namelist()} == {f.name: f.read_bytes() for f in (out / "upload").iterdir()}
    mailed = sorted((out / "mail").glob("0[1-9]-*.pdf"))
    assert len(mailed) == 2
    for pdf in mailed:
        text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
        assert "福オンEN25001878" in unicodedata.normalize("NFKC", text)
    originals = {p.name: p.read_bytes() for p in (out / "originals").iterdir() if p.name not in ("case.toml",)}
    assert originals == sent  # byte-identical to what the browser sent
    assert not [p for p in inbox.iterdir() if not p.name.startswith(".")]
    shutil.rmtree(scans)


def test_files_dropped_on_the_page_are_sent_as_they_are(tmp_path: Path) -> None:
    """The drop zone's own upload (JavaScript, fetch): the bytes land in INBOX unchanged."""
    inbox, outbox = tmp_path / "INBOX", tmp_path / "OUTBOX"
    inbox.mkdir()
    outbox.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "PACKAGER_DESK_TOKEN"}
    desk = _start(["desk", str(outbox), "--inbox", str(inbox), "--port", "0"], env)
    assert desk.stdout is not None
    url = desk.stdout.readline().split()[2].rstrip("/")
    payload = bytes(range(256)) * 40  # every byte value: nothing may be re-encoded on the way
    try:
        with _sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
            page = browser.new_page()
            page.goto(url + "/new")
            page.fill("#case", "dropped")
            drop = page.evaluate_handle(
                """(bytes) => {
                    const dt = new DataTransfer();
                    dt.items.add(new File([new Uint8Array(bytes)], "scan 1.pdf", {type: "application/pdf"}));
                    dt.items.add(new File(["%PDF-1.4 second"], "在職証明書.pdf", {type: "application/pdf"}));
                    return dt;
                }""",
                list(payload),
            )
            page.dispatch_event("#drop", "drop", {"dataTransfer": drop})
            page.wait_for_selector("#chosen li >> text=在職証明書.pdf")
            page.click("#submit-case")
            page.wait_for_selector("text=Case saved")
            browser.close()
    finally:
        assert _stop(desk) == 0
    case = inbox / "dropped"
    assert (case / "scan 1.pdf").read_bytes() == payload
    assert (case / "在職証明書.pdf").read_bytes() == b"%PDF-1.4 second"
    assert (case / "READY").is_file()

"""The desk's routes in process (Starlette's TestClient): pages, files, stamping, and every refusal.

One small real case is built once (four generated scans, a limit that forces two documents into
the mail), placed as the watcher places it: OUTBOX/mini/ with originals/.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import unicodedata
import zipfile
from pathlib import Path

import pikepdf
import pytest
from starlette.testclient import TestClient

from fixtures.generate import make_case
from packager.cli import main
from packager.desk.app import create_app
from packager.desk.config import DeskConfig
from packager.desk.guard import CSRF_COOKIE, TOKEN_COOKIE
from packager.errors import ExitCode
from tests.conftest import sha256_tree

FILES = ["passport.jpg", "photo.jpg", "scan0001.pdf", "01_employment-certificate.pdf"]
LOCAL = "http://127.0.0.1:8765"
TOKEN = "s3cret-token-for-the-desk-tests"


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """OUTBOX with one built case that mails two documents, a failed case and a link to skip."""
    root = tmp_path_factory.mktemp("desk")
    case = root / "mini"
    make_case("small", case, only=FILES)
    outbox = root / "OUTBOX"
    out = outbox / "mini"
    assert main(["build", str(case), "--out", str(out), "--limit", "0.25MB", "--quiet", "--jobs", "1"]) == 0
    shutil.copytree(case, out / "originals")  # as the watcher leaves the inputs beside the result
    failed = outbox / "_failed" / "broken-case"
    failed.mkdir(parents=True)
    (failed / "reason.txt").write_text("case.toml: application: 'visa' is not an application type\n")
    return outbox


@pytest.fixture
def outbox(built: Path, tmp_path: Path) -> Path:
    """A fresh copy per test: stamping and caching write into it."""
    copy = tmp_path / "OUTBOX"
    shutil.copytree(built, copy, symlinks=True)
    return copy


def _client(outbox: Path, **kw: object) -> TestClient:
    cfg = DeskConfig(outbox=outbox, **kw)  # type: ignore[arg-type]
    return TestClient(create_app(cfg), base_url=LOCAL, follow_redirects=False)


def _csrf(client: TestClient, page: str = "/case/mini") -> str:
    html = client.get(page).text
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', html)
    assert found, "no CSRF field in the page"
    return found.group(1)


def _manifest(out: Path) -> dict:  # type: ignore[type-arg]
    return json.loads((out / "manifest.json").read_text("utf-8"))


# ---------------------------------------------------------------------------- pages


def test_case_list_shows_states_newest_first(outbox: Path) -> None:
    os.utime(outbox / "_failed" / "broken-case" / "reason.txt", (1, 1))  # older than the built case
    with _client(outbox) as client:
        r = client.get("/")
    assert r.status_code == 200
    html = r.text
    assert html.index("/case/mini") < html.index("/case/_failed/broken-case")
    assert "Needs mailing" in html and "郵送あり" in html
    assert "Failed" in html and "is not an application type" in html
    assert "MILLER JAMES ROBERT" in html


def test_case_page_shows_everything_a_person_checks(outbox: Path) -> None:
    with _client(outbox) as client:
        html = client.get("/case/mini").text
    assert '<label for="receipt">Receipt number / 申請受付番号</label>' in html
    assert '<input id="receipt" name="receipt"' in html and ">Stamp</button>" in html
    assert "Checklist" in html and "旅券" in html  # the checklist names the passport
    assert "lowest mail priority" in html  # why the passport is mailed
    warnings = html[html.index('aria-label="warnings"'):].split("</section>")[0]
    assert warnings.count("placeholder") == 1  # the placeholder addressee is a warning to act on, said once
    assert "blank page" in html and "/-/dropped/0.jpg" in html
    for enc in re.findall(r'<span class="p-enc">([^<]+)</span>', html):
        assert enc  # every page names its encoding
    assert "<meter" in html  # bytes of the limit


def test_thumbnails_render_once_into_the_case_cache(outbox: Path) -> None:
    with _client(outbox) as client:
        html = client.get("/case/mini").text
        thumbs = re.findall(r'src="(/case/mini/-/(?:thumb|dropped)/[^"]+)"', html)
        assert len(thumbs) >= 4
        for url in thumbs:
            r = client.get(url)
            assert r.status_code == 200, url
            assert r.headers["content-type"] == "image/jpeg" and r.content[:2] == b"\xff\xd8"
    cached = list((outbox / "mini" / ".packager" / "thumbs").iterdir())
    assert len(cached) == len(thumbs)


def test_zip_is_the_upload_folder_byte_for_byte_and_deterministic(outbox: Path) -> None:
    with _client(outbox) as client:
        first = client.get("/case/mini/-/upload.zip")
        second = client.get("/case/mini/-/upload.zip")
    assert first.status_code == 200 and first.content == second.content
    names = zipfile.ZipFile(io.BytesIO(first.content)).namelist()
    on_disk = sorted(p.name for p in (outbox / "mini" / "upload").iterdir())
    assert names == on_disk  # 00-declaration first, photo.jpg last: the form's order
    with zipfile.ZipFile(io.BytesIO(first.content)) as zf:
        for name in names:
            assert zf.read(name) == (outbox / "mini" / "upload" / name).read_bytes()


def test_print_kit_is_cover_sheet_then_mailed_documents(outbox: Path) -> None:
    out = outbox / "mini"
    with _client(outbox) as client:
        r = client.get("/case/mini/-/print-kit.pdf")
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
    assert r.headers["content-disposition"].startswith("inline")
    mail = sorted((out / "mail").iterdir())
    expected = 0
    for f in mail:
        with pikepdf.open(f) as pdf:
            expected += len(pdf.pages)
    with pikepdf.open(io.BytesIO(r.content)) as kit:
        assert len(kit.pages) == expected
    text = subprocess.run(["pdftotext", "-l", "1", "-", "-"], input=r.content, capture_output=True, check=True).stdout
    assert "送付状" in text.decode()


def test_inline_pdf_is_the_listed_file(outbox: Path) -> None:
    with _client(outbox) as client:
        r = client.get("/case/mini/-/file/upload/00-declaration.pdf")
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
    assert r.headers["content-disposition"].startswith("inline")
    assert r.content == (outbox / "mini" / "upload" / "00-declaration.pdf").read_bytes()


def test_stamp_from_the_page_stamps_like_the_cli(outbox: Path) -> None:
    out = outbox / "mini"
    pristine = sha256_tree(out / ".packager" / "pristine")
    with _client(outbox) as client:
        token = _csrf(client)
        r = client.post("/case/mini/-/stamp", data={"csrf": token, "receipt": "福オンＥＮ25001878",
                                                     "filing_date": "2026-12-01"})
        assert r.status_code == 303 and r.headers["location"] == "/case/mini?stamped=1"
        page = client.get("/case/mini?stamped=1").text
        assert "Stamped" in page and "福オンＥＮ25001878" in page
        # a corrected number re-stamps from the pristine copies: only the new number is printed
        r = client.post("/case/mini/-/stamp", data={"csrf": token, "receipt": "福オンＥＮ25001879"})
        assert r.status_code == 303
    m = _manifest(out)
    assert m["stamp"]["receipt"] == "福オンＥＮ25001879"
    mailed = [o["path"] for o in m["outputs"] if o["destination"] == "mail" and o["document"] != "cover-sheet"]
    for rel in mailed:
        text = unicodedata.normalize("NFKC", subprocess.run(
            ["pdftotext", str(out / rel), "-"], capture_output=True, text=True, check=True).stdout)
        assert "福オンEN25001879" in text and "福オンEN25001878" not in text
    assert sha256_tree(out / ".packager" / "pristine") == pristine


def test_warnings_to_act_on_after_stamping(outbox: Path) -> None:
    with _client(outbox) as client:
        token = _csrf(client)
        assert client.post("/case/mini/-/stamp", data={"csrf": token, "receipt": "12345"}).status_code == 303
        html = client.get("/case/mini").text
    assert "Stamped without a filing date" in html
    assert "The receipt number 12345 does not look like the usual form" in html


def test_damaged_manifest_is_said_on_the_page(outbox: Path) -> None:
    (outbox / "mini" / "manifest.json").write_text("{ not json", encoding="utf-8")
    with _client(outbox) as client:
        r = client.get("/case/mini")
        assert r.status_code == 200 and "Cannot be read" in r.text and "manifest.json" in r.text
        assert client.get("/case/mini/-/upload.zip").status_code == 404


def test_bad_receipt_is_shown_in_the_page_and_nothing_changes(outbox: Path) -> None:
    before = sha256_tree(outbox)
    with _client(outbox) as client:
        token = _csrf(client)
        r = client.post("/case/mini/-/stamp", data={"csrf": token, "receipt": "福オン\u200bEN1"})
        assert r.status_code == 422
        assert "control character U+200B" in r.text and 'role="alert"' in r.text
        r = client.post("/case/mini/-/stamp", data={"csrf": token, "receipt": "X1", "filing_date": "1.12.2026"})
        assert r.status_code == 422 and "is not a date" in r.text
    after = {k: v for k, v in sha256_tree(outbox).items() if "/.packager/thumbs/" not in k}
    assert after == before


# ---------------------------------------------------------------------------- refusals (issue 10 point 7)


def _unchanged(outbox: Path, before: dict[str, str]) -> None:
    assert {k: v for k, v in sha256_tree(outbox).items() if ".packager/thumbs/" not in k} == before


@pytest.mark.parametrize(
    "path",
    [
        "/case/../../../../etc/passwd",
        "/case/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        "/case/mini/-/file/../../../../etc/passwd",
        "/case/mini/-/file/%2e%2e%2f%2e%2e%2fmanifest.json",
        "/case/mini/-/file/upload%2f..%2f..%2fmini%2fmanifest.json",
        "/case/mini/-/file/manifest.json",  # in the case folder, but not an output the manifest lists
        "/case/mini/-/file/originals/passport.jpg",  # an input: never served
        "/case/mini/-/file/.packager/pristine/01-passport.pdf",
        "/case/..%2fmini/-/upload.zip",
        "/case/_failed/broken-case/-/file/reason.txt",
        "/case/.work/x",
        "/static/../manifest.json",
        "/static/%2e%2e/%2e%2e/desk/app.py",
    ],
)
def test_path_traversal_is_refused(outbox: Path, path: str) -> None:
    before = sha256_tree(outbox)
    with _client(outbox) as client:
        r = client.get(path)
    assert r.status_code == 404, (path, r.status_code)
    assert b"root:" not in r.content and b'"outputs"' not in r.content
    _unchanged(outbox, before)


def test_symbolic_links_are_never_followed(outbox: Path, tmp_path: Path) -> None:
    secret = tmp_path / "secret.pdf"
    secret.write_bytes(b"%PDF-1.4 not for the browser")
    listed = outbox / "mini" / "upload" / "00-declaration.pdf"
    listed.unlink()
    listed.symlink_to(secret)
    (outbox / "linked-case").symlink_to(outbox / "mini", target_is_directory=True)
    with _client(outbox) as client:
        assert client.get("/case/mini/-/file/upload/00-declaration.pdf").status_code == 404
        assert client.get("/case/mini/-/upload.zip").status_code == 409  # the set is incomplete: say so
        assert client.get("/case/linked-case").status_code == 404
        assert "linked-case" not in client.get("/").text


def test_post_without_or_with_wrong_csrf_is_refused(outbox: Path) -> None:
    before = sha256_tree(outbox)
    with _client(outbox) as client:
        client.get("/case/mini")  # the browser has its CSRF cookie
        r = client.post("/case/mini/-/stamp", data={"receipt": "福オンＥＮ25001878"})
        assert r.status_code == 403
        r = client.post("/case/mini/-/stamp", data={"receipt": "福オンＥＮ25001878", "csrf": "0" * 64})
        assert r.status_code == 403
        token = _csrf(client)
        client.cookies.clear()
        client.cookies.set(CSRF_COOKIE, "another-browser")  # a token only fits the cookie it was made for
        r = client.post("/case/mini/-/stamp", data={"receipt": "福オンＥＮ25001878", "csrf": token})
        assert r.status_code == 403
        assert client.get("/case/mini/-/stamp").status_code in (404, 405)  # state changes only by POST
    _unchanged(outbox, before)
    assert _manifest(outbox / "mini")["stamp"] is None


def test_token_is_required_beyond_localhost(outbox: Path) -> None:
    before = sha256_tree(outbox)
    with _client(outbox, host="0.0.0.0", token=TOKEN) as client:
        assert client.get("/").status_code == 401
        assert client.get("/case/mini/-/upload.zip").status_code == 401
        assert client.get("/?token=wrong-token-wrong-token").status_code == 401
        client.cookies.set(TOKEN_COOKIE, "forged")
        assert client.get("/case/mini").status_code == 401
        r = client.post("/case/mini/-/stamp?token=" + TOKEN, data={"receipt": "X1"})
        assert r.status_code == 401  # the token opens a session by GET only
        client.cookies.clear()
        r = client.get(f"/case/mini?token={TOKEN}")
        assert r.status_code == 303 and r.headers["location"] == "/case/mini"  # the token leaves the address
        assert "HttpOnly" in r.headers["set-cookie"]
        assert client.get("/case/mini").status_code == 200
        assert client.get("/case/mini/-/upload.zip").status_code == 200
    _unchanged(outbox, before)


def test_loopback_desk_answers_only_to_loopback_host_names(outbox: Path) -> None:
    cfg = DeskConfig(outbox=outbox)
    with TestClient(create_app(cfg), base_url="http://attacker.example:8765") as client:
        assert client.get("/").status_code == 421  # DNS rebinding: a page on another name cannot read cases
    with TestClient(create_app(cfg), base_url="http://localhost:8765") as client:
        assert client.get("/").status_code == 200


def test_security_headers_on_every_answer(outbox: Path) -> None:
    with _client(outbox) as client:
        answers = [client.get("/"), client.get("/case/mini"), client.get("/case/nope"),
                   client.get("/case/mini/-/file/upload/00-declaration.pdf"), client.get("/static/desk.css"),
                   client.post("/case/mini/-/stamp", data={})]
    with _client(outbox, host="0.0.0.0", token=TOKEN) as client:
        answers.append(client.get("/"))
    for r in answers:
        assert r.headers["content-security-policy"].startswith("default-src 'self'"), r.url
        assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["cache-control"] == "no-store"


def test_log_names_requests_not_contents_or_token(outbox: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with _client(outbox, host="0.0.0.0", token=TOKEN) as client:
        client.get(f"/?token={TOKEN}")
        client.get("/case/mini")
        token = _csrf(client)
        client.post("/case/mini/-/stamp", data={"csrf": token, "receipt": "福オンＥＮ25001878"})
    log = capsys.readouterr().err
    assert "GET /case/mini 200" in log and "POST /case/mini/-/stamp 303" in log
    assert TOKEN not in log and "25001878" not in log and "MILLER" not in log


def test_host_beyond_localhost_without_token_refuses_to_start(outbox: Path, capsys: pytest.CaptureFixture[str],
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PACKAGER_DESK_TOKEN", raising=False)
    code = main(["desk", str(outbox), "--host", "0.0.0.0"])
    err = capsys.readouterr().err
    assert code == ExitCode.DESK_ERROR == 12
    assert err.count("\n") == 1 and "--token" in err and err.startswith("packager: --host 0.0.0.0")
    assert main(["desk", str(outbox), "--host", "0.0.0.0", "--token", "short"]) == ExitCode.DESK_ERROR
    assert main(["desk", str(outbox / "missing")]) == ExitCode.DESK_ERROR


# ---------------------------------------------------------------------------- a new case from the browser


def _new_case(client: TestClient, files: list[tuple[str, bytes]], **fields: str) -> object:
    token = _csrf(client, "/new")
    return client.post("/new", data={"csrf": token, **fields},
                       files=[("files", (name, data, "application/octet-stream")) for name, data in files])


def test_new_case_lands_in_inbox_byte_identical_with_ready(outbox: Path, tmp_path: Path) -> None:
    inbox = tmp_path / "INBOX"
    inbox.mkdir()
    blobs = [("tanaka/passport.jpg", os.urandom(3000)), ("tanaka/sub/../../../evil.pdf", b"%PDF-1.4 x"),
             ("tanaka/.DS_Store", b"junk"), ("tanaka/在職証明書.pdf", b"%PDF-1.4 y"), ("tanaka/a:b?.pdf", b"z")]
    with _client(outbox, inbox=inbox) as client:
        r = _new_case(client, blobs, application="extension", status="engineer-humanities-international",
                      applicant_name="TANAKA HANAKO", birth_date="1990-04-01", bureau="東京出入国在留管理局")
    assert r.status_code == 201, r.text
    case = inbox / "tanaka"
    written = {p.relative_to(case).as_posix(): p.read_bytes() for p in case.rglob("*") if p.is_file()}
    assert written.pop("READY") == b""
    toml = written.pop("case.toml").decode()
    assert 'bureau = "東京出入国在留管理局"' in toml and "birth_date = 1990-04-01" in toml
    assert written == {"passport.jpg": blobs[0][1], "sub/evil.pdf": b"%PDF-1.4 x", "在職証明書.pdf": b"%PDF-1.4 y",
                       "a_b_.pdf": b"z"}
    assert [p.name for p in inbox.iterdir()] == ["tanaka"]  # no temporary folder left behind


def test_new_case_never_overwrites_and_checks_case_toml(outbox: Path, tmp_path: Path) -> None:
    inbox = tmp_path / "INBOX"
    (inbox / "tanaka").mkdir(parents=True)
    (inbox / "tanaka" / "scan.pdf").write_bytes(b"theirs")
    with _client(outbox, inbox=inbox) as client:
        r = _new_case(client, [("scan.pdf", b"%PDF-1.4 mine")], case="tanaka")
        assert r.status_code == 201
        r = _new_case(client, [("scan.pdf", b"%PDF-1.4 mine")], case="suzuki", application="visa")
        assert r.status_code == 422 and "application" in r.text  # the library's own case.toml check
        r = _new_case(client, [("scan.pdf", b"%PDF")], case="x", application="extension",
                      status="temporary-visitor")
        assert r.status_code == 422 and "counter" in r.text  # not eligible online: said before the watcher
    assert (inbox / "tanaka" / "scan.pdf").read_bytes() == b"theirs"
    assert (inbox / "tanaka-2" / "scan.pdf").read_bytes() == b"%PDF-1.4 mine"
    assert sorted(p.name for p in inbox.iterdir()) == ["tanaka", "tanaka-2"]


def test_oversized_or_too_many_files_upload_is_refused(outbox: Path, tmp_path: Path) -> None:
    inbox = tmp_path / "INBOX"
    inbox.mkdir()
    with _client(outbox, inbox=inbox, max_upload_bytes=100_000, max_upload_files=3) as client:
        r = _new_case(client, [("big.pdf", b"%" * 200_000)], case="big")
        assert r.status_code == 413 and "more than the 100 KB one case may send" in r.text
        r = _new_case(client, [(f"s{i}.pdf", b"%PDF") for i in range(5)], case="many")
        assert r.status_code == 413 and "at most 3 files" in r.text
        r = _new_case(client, [(".DS_Store", b"x")], case="junk")
        assert r.status_code == 422 and "no files" in r.text
        token = _csrf(client, "/new")
        r = client.post("/new", data={"csrf": "0" * 64, "case": "nocsrf"},
                        files=[("files", ("a.pdf", b"%PDF", "application/pdf"))])
        assert r.status_code == 403 and token
    assert list(inbox.iterdir()) == []


def test_new_case_needs_an_inbox(outbox: Path) -> None:
    with _client(outbox) as client:
        assert client.get("/new").status_code == 404
        assert "/new" not in client.get("/").text


def test_digest_of_served_zip_matches_manifest(outbox: Path) -> None:
    m = _manifest(outbox / "mini")
    with _client(outbox) as client:
        data = client.get("/case/mini/-/upload.zip").content
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        digests = {n: hashlib.sha256(zf.read(n)).hexdigest() for n in zf.namelist()}
    assert digests == {o["path"].split("/")[-1]: o["sha256"] for o in m["outputs"] if o["destination"] == "upload"}

"""End to end through the CLI, in process: fit, determinism, untouched inputs, errors, mail."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import unicodedata
from pathlib import Path

import img2pdf
import pikepdf
import pytest

from fixtures.broken import FILES, VALID_KINDS, make_broken_inputs
from fixtures.fuzz import manifest_problems
from fixtures.pages import blank_page, encode_jpeg, encode_png, id_photo, passport_page, photo_page, text_page
from packager.cli import main
from packager.errors import ExitCode
from tests.conftest import sha256_tree

CASE_TOML = """application = "extension"
status = "engineer-humanities-international"
[applicant]
name = "MILLER JAMES ROBERT"
nationality = "United States"
birth_date = 1987-03-05
residence_card_number = "AB12345678CD"
"""


def _pdf_of_jpegs(images: list[bytes]) -> bytes:
    return img2pdf.convert(images, nodate=True)


def make_mini_case(folder: Path) -> Path:
    """A small but real case: colour passport, grey certificate PNG, a 4-page statement with a
    blank back, an ID photo; ~3 MB, quick to build."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "case.toml").write_text(CASE_TOML, encoding="utf-8")
    passport, _ = passport_page(200, seed=1)
    (folder / "passport.jpg").write_bytes(encode_jpeg(passport, 92, 200))
    cert, _ = text_page(300, seed=2, colour_seal=True, size_mm=(210, 148))
    (folder / "01_employment-certificate.png").write_bytes(encode_png(cert, 300))
    pages = [encode_jpeg(text_page(200, seed=10 + i)[0], 90, 200) for i in range(3)]
    pages.insert(2, encode_jpeg(blank_page(200, noise=True, seed=3), 90, 200))
    (folder / "financial-statements.pdf").write_bytes(_pdf_of_jpegs(pages))
    buf = io.BytesIO()
    id_photo(seed=1).save(buf, "JPEG", quality=92)
    (folder / "photo.jpg").write_bytes(buf.getvalue())
    return folder


@pytest.fixture(scope="module")
def mini_case(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_mini_case(tmp_path_factory.mktemp("mini") / "case")


@pytest.fixture(scope="module")
def built(mini_case: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    out = tmp_path_factory.mktemp("out") / "OUT"
    code = main(["build", str(mini_case), "--out", str(out), "--quiet"])
    return out, code


def _manifest(out: Path) -> dict:  # type: ignore[type-arg]
    return json.loads((out / "manifest.json").read_text("utf-8"))


def test_build_fits_and_reports(built: tuple[Path, int]) -> None:
    out, code = built
    assert code == ExitCode.OK
    m = _manifest(out)
    assert manifest_problems(m) == []  # every accepted page is placed or dropped as blank
    on_disk = sum(p.stat().st_size for p in (out / "upload").iterdir())
    assert m["upload_bytes"] == on_disk <= m["limit_bytes"] == 25_000_000
    names = sorted(p.name for p in (out / "upload").iterdir())
    assert names == ["01-passport.pdf", "02-employment-certificate.pdf", "03-financial-statements.pdf", "photo.jpg"]
    for o in m["outputs"]:
        assert (out / o["path"]).stat().st_size == o["bytes"]
        for p in o["pages"]:
            if o["document"] != "photo":
                assert p["dpi"] >= 200
    statement = next(o for o in m["outputs"] if o["document"] == "financial-statements")
    assert [p["source_page"] for p in statement["pages"]] == [0, 1, 3]  # the blank back was dropped
    assert m["dropped_pages"] == [{"source": "financial-statements.pdf", "source_page": 2, "reason": "blank page"}]
    assert {i["path"] for i in m["inputs"]} == {
        "passport.jpg", "01_employment-certificate.png", "financial-statements.pdf", "photo.jpg"
    }
    assert all(i["status"] == "accepted" and len(i["sha256"]) == 64 for i in m["inputs"])


def test_outputs_are_plain_pdfs_with_titles(built: tuple[Path, int]) -> None:
    out, _ = built
    for pdf_path in (out / "upload").glob("*.pdf"):
        subprocess.run(["qpdf", "--check", str(pdf_path)], check=True, capture_output=True)
        with pikepdf.open(pdf_path) as pdf:
            assert not pdf.is_encrypted
            assert str(pdf.docinfo["/Title"])
            assert "/CreationDate" not in pdf.docinfo


def test_photo_is_a_small_3_4_portrait_without_exif(built: tuple[Path, int]) -> None:
    from PIL import Image

    out, _ = built
    with Image.open(out / "upload" / "photo.jpg") as im:
        assert im.size == (600, 800)
        assert not im.getexif()


def test_rerun_is_byte_identical_and_inputs_untouched(mini_case: Path, built: tuple[Path, int], tmp_path: Path) -> None:
    out, _ = built
    before = sha256_tree(mini_case)
    again = tmp_path / "again"
    assert main(["build", str(mini_case), "--out", str(again), "--quiet", "--jobs", "1"]) == 0
    assert sha256_tree(again / "upload") == sha256_tree(out / "upload")
    # and rebuilding into the same OUT leaves it complete, with nothing stale
    assert main(["build", str(mini_case), "--out", str(again), "--quiet"]) == 0
    assert sha256_tree(again / "upload") == sha256_tree(out / "upload")
    assert sha256_tree(mini_case) == before
    assert not list(again.rglob(".tmp-*"))


def test_bad_inputs_are_listed_and_the_rest_is_built(mini_case: Path, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    case = make_mini_case(tmp_path / "case")
    broken = make_broken_inputs(case / "extra")
    before = sha256_tree(case)
    code = main(["build", str(case), "--out", str(tmp_path / "out")])
    assert code == ExitCode.INPUTS_REJECTED
    m = _manifest(tmp_path / "out")
    assert manifest_problems(m) == []  # every accepted page is placed or dropped as blank
    rejected = {i["path"]: i["reason"] for i in m["inputs"] if i["status"] == "rejected"}
    assert set(rejected) == {f"extra/{n}" for n, b in broken.items() if b not in VALID_KINDS}
    assert "extra/owner-password-only.pdf" not in rejected
    # qpdf sees no page in this one, PDFium one: it is built, rendered by PDFium
    assert any(p["source"] == "extra/page-tree-wrong-generation.pdf" for o in m["outputs"] for p in o["pages"])
    assert (tmp_path / "out" / "upload" / "01-passport.pdf").exists()
    printed = capsys.readouterr().out
    assert "rejected: extra/encrypted.pdf: is password-protected" in printed
    assert sha256_tree(case) == before
    restricted_out = next(
        o for o in m["outputs"] if any(p["source"] == "extra/owner-password-only.pdf" for p in o["pages"])
    )
    with pikepdf.open(tmp_path / "out" / restricted_out["path"]) as pdf:
        assert not pdf.is_encrypted


def test_tight_limit_mails_lowest_priority_with_declaration(tmp_path: Path) -> None:
    case = make_mini_case(tmp_path / "case")
    photos = [encode_jpeg(photo_page(300, seed=20 + i)[0], 95, 300) for i in range(3)]
    (case / "company-brochure.pdf").write_bytes(_pdf_of_jpegs(photos))
    out = tmp_path / "out"
    code = main(["build", str(case), "--out", str(out), "--limit", "0.4MB", "--quiet"])
    assert code == ExitCode.OK
    m = _manifest(out)
    assert manifest_problems(m) == []  # every accepted page is placed or dropped as blank
    assert m["upload_bytes"] <= 400_000
    assert [x["document"] for x in m["mailed"]] == ["company-brochure"]
    assert "lowest mail priority" in m["mailed"][0]["reason"]
    assert (out / "upload" / "00-declaration.pdf").exists()
    assert (out / "mail" / "00-cover-sheet.pdf").exists()
    # case.toml names no bureau: the forms carry a placeholder, and the build says so
    assert any(w.startswith("to do:") and "placeholder bureau" in w for w in m["warnings"])
    mailed = next(o for o in m["outputs"] if o["document"] == "company-brochure")
    assert mailed["destination"] == "mail" and (out / mailed["pristine"]).exists()
    with pikepdf.open(out / mailed["path"]) as pdf:
        assert len(pdf.pages) == 3
    text = subprocess.run(
        ["pdftotext", str(out / "upload" / "00-declaration.pdf"), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert "会社案内" in text and "MILLER JAMES ROBERT" in text

    # stamp after filing: the mailed pages carry the number, the pristine copy stays as built
    pristine_before = sha256_tree(out / ".packager" / "pristine")
    assert main(["stamp", str(out), "--receipt", "福オンＥＮ25001878"]) == ExitCode.OK
    stamped = subprocess.run(["pdftotext", str(out / mailed["path"]), "-"], capture_output=True, text=True).stdout
    assert unicodedata.normalize("NFKC", stamped).count("福オンEN25001878") == 3
    assert sha256_tree(out / ".packager" / "pristine") == pristine_before


def test_out_inside_case_is_refused(mini_case: Path) -> None:
    assert main(["build", str(mini_case), "--out", str(mini_case / "out"), "--quiet"]) == ExitCode.OUTPUT_ERROR
    assert not (mini_case / "out").exists()


def test_nothing_usable_exits_4_naming_every_rejected_file(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    make_broken_inputs(tmp_path / "case")
    for name, badness in FILES.items():
        if badness in VALID_KINDS:
            (tmp_path / "case" / name).unlink()
    assert main(["build", str(tmp_path / "case"), "--out", str(tmp_path / "out")]) == ExitCode.NOTHING_TO_PACKAGE
    err = capsys.readouterr().err
    assert "Traceback" not in err
    for name, badness in FILES.items():
        assert (name in err) == (badness not in VALID_KINDS), name


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as e:
        main(["build", str(tmp_path), "--out", str(tmp_path / "o"), "--limit", "lots"])
    assert e.value.code == ExitCode.USAGE


def test_legacy_profile_gives_one_pdf(mini_case: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert main(["build", str(mini_case), "--out", str(out), "--profile", "isa-legacy", "--quiet"]) == 0
    assert sorted(p.name for p in (out / "upload").iterdir()) == ["application-documents.pdf"]
    with pikepdf.open(out / "upload" / "application-documents.pdf") as pdf:
        assert len(pdf.pages) == 6  # passport, certificate, 3 statement pages, the photo


def test_unknown_profile_is_one_line(mini_case: Path, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    code = main(["build", str(mini_case), "--out", str(tmp_path / "o"), "--profile", "nope"])
    assert code == ExitCode.PROFILE_ERROR
    err = capsys.readouterr().err.strip()
    assert "nope" in err and "\n" not in err and "Traceback" not in err


def test_wrong_originals_guess_is_repaired_by_the_second_pass(
    mini_case: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first pass keeps originals unencoded when they look like they fit; when the guess is
    wrong, the second pass encodes every rung and the upload still fits."""
    from packager import passes

    monkeypatch.setattr(passes, "originals_likely_fit", lambda inputs, limit: True)
    out = tmp_path / "out"
    assert main(["build", str(mini_case), "--out", str(out), "--limit", "0.6MB", "--quiet", "--jobs", "1"]) == 0
    m = _manifest(out)
    assert manifest_problems(m) == []  # every accepted page is placed or dropped as blank
    assert m["upload_bytes"] <= 600_000
    encodings = {p["encoding"] for o in m["outputs"] for p in o["pages"]}
    assert any(e.startswith(("jpeg", "g4")) for e in encodings)


def test_a_foreign_file_in_upload_stops_the_build_named_and_kept(
    mini_case: Path, built: tuple[Path, int], tmp_path: Path, capsys  # type: ignore[no-untyped-def]
) -> None:
    out = tmp_path / "OUT"
    shutil.copytree(built[0], out)
    stray = out / "upload" / "old-scan.pdf"
    stray.write_bytes(b"%PDF-1.4 a file from another case")
    before = sha256_tree(out)
    assert main(["build", str(mini_case), "--out", str(out), "--quiet"]) == ExitCode.OUTPUT_ERROR
    err = capsys.readouterr().err
    assert "old-scan.pdf" in err and "did not write" in err and "\n" not in err.strip()
    assert sha256_tree(out) == before  # nothing done: not the stray, not the old build
    stray.unlink()
    assert main(["build", str(mini_case), "--out", str(out), "--quiet"]) == 0  # packager's own files are known


def test_a_stopped_build_still_knows_its_files(mini_case: Path, tmp_path: Path) -> None:
    """The old manifest is withdrawn when a build starts; if that build stops, the next one
    must not take packager's own files for foreign ones."""
    out = tmp_path / "OUT"
    assert main(["build", str(mini_case), "--out", str(out), "--quiet"]) == 0
    (out / "manifest.json").unlink()  # as a build that stopped half-way leaves it …
    (out / ".packager").mkdir(exist_ok=True)
    (out / ".packager" / "written.txt").write_text(
        "".join(f"upload/{p.name}\n" for p in (out / "upload").iterdir()), encoding="utf-8"
    )  # … with its ledger
    assert main(["build", str(mini_case), "--out", str(out), "--quiet"]) == 0


def test_no_empty_folders_when_nothing_is_mailed(built: tuple[Path, int]) -> None:
    out, _ = built
    assert not (out / "mail").exists()
    assert not (out / ".packager").exists()
    assert sorted(p.name for p in out.iterdir()) == ["manifest.json", "upload"]


def test_a_missing_case_folder_is_a_usage_error(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    for command in (["build", str(tmp_path / "nope"), "--out", str(tmp_path / "o")], ["check", str(tmp_path / "nope")]):
        assert main(command) == ExitCode.USAGE
        err = capsys.readouterr().err
        assert "no such case folder" in err and "Traceback" not in err
    assert not (tmp_path / "o").exists()


def test_build_lists_what_a_person_must_still_do(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    case = make_mini_case(tmp_path / "case")
    (case / "case.toml").unlink()
    (case / "photo.jpg").unlink()
    assert main(["build", str(case), "--out", str(tmp_path / "out")]) == 0
    printed = capsys.readouterr().out
    todo = [w for w in _manifest(tmp_path / "out")["warnings"] if w.startswith("to do:")]
    assert len(todo) == 2
    assert "write case.toml" in todo[0] and "add the ID photo" in todo[1]
    assert all(w in printed for w in todo)


def _residence_card_case(folder: Path, named: bool) -> Path:
    """A scanned residence card (grey: its pages are not colour by their pixels) as a copier
    names it, scan0001.pdf, and a letter; `named`: case.toml says what the scan is."""
    folder.mkdir(parents=True)
    mapping = '[documents]\n"scan0001.pdf" = "residence-card"\n' if named else ""
    (folder / "case.toml").write_text(CASE_TOML + mapping, encoding="utf-8")
    for name, lines, seed in (("scan0001.pdf", ["在留カード", "RESIDENCE CARD", "氏名 MILLER JAMES ROBERT"], 50),
                              ("statement-of-reasons.pdf", ["理由書", "私は日本で働き続けたいと考えています。"], 51)):
        image, _ = text_page(300, lines=lines, seed=seed, pt=16, size_mm=(148, 105))
        (folder / name).write_bytes(_pdf_of_jpegs([encode_jpeg(image, 90, 300)]))
    return folder


@pytest.mark.skipif(shutil.which("tesseract") is None, reason="tesseract not installed")
def test_a_colour_kind_read_from_the_page_builds_as_if_it_had_been_named(tmp_path: Path) -> None:
    """The first pass starts before kinds are read from content (api._read_alongside): the scan
    is looked at as 'other' first. Read as a residence card (a colour kind: every page colour),
    its page is analysed again, so the upload is byte for byte the one of the named case."""
    outs = {}
    for named in (False, True):
        case = _residence_card_case(tmp_path / f"named-{named}", named)
        outs[named] = tmp_path / f"out-{named}"
        # 0.3 MB: the originals (~0.48 MB) do not fit, so the scan is encoded by its class.
        assert main(["build", str(case), "--out", str(outs[named]), "--limit", "0.3MB", "--jobs", "2", "--quiet"]) == 0
    read, named_m = _manifest(outs[False]), _manifest(outs[True])
    card = next(i for i in read["inputs"] if i["path"] == "scan0001.pdf")
    assert (card["kind"], card["kind_from"]) == ("residence-card", "content")
    assert [o["pages"] for o in read["outputs"]] == [o["pages"] for o in named_m["outputs"]]
    assert read["outputs"][0]["pages"][0]["encoding"].startswith("mrc@")  # a colour page's rung
    assert sha256_tree(outs[False] / "upload") == sha256_tree(outs[True] / "upload")


def test_kinds_not_read_when_their_process_dies_and_the_build_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The kinds and digests are read in a process beside the pool; if it dies (killed, a crash
    in a library) the scanner-named file stays 'other' with a warning, digests are still taken."""
    from packager import api
    from packager.pool import AsideDied

    class DeadAside:
        def __init__(self, *args: object) -> None:
            pass

        def result(self) -> None:
            raise AsideDied("it ended without a result (SIGKILL)")

        def end(self) -> None:
            pass

    monkeypatch.setattr(api, "Aside", DeadAside)
    case = _residence_card_case(tmp_path / "case", named=False)
    assert main(["build", str(case), "--out", str(tmp_path / "out"), "--jobs", "2", "--quiet"]) == 0
    m = _manifest(tmp_path / "out")
    assert {i["path"]: i["kind"] for i in m["inputs"]} == {"scan0001.pdf": "other",
                                                            "statement-of-reasons.pdf": "statement-of-reasons"}
    assert all(len(i["sha256"]) == 64 for i in m["inputs"])
    assert any("scan0001.pdf could not be read from the page (it ended without a result (SIGKILL))" in w
               for w in m["warnings"])


def test_a_case_far_over_the_limit_decodes_each_page_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Four A6 letters at 60 KB: even at the floor guess of their best rung (~22 KB a page) they
    are over the room, so the first pass encodes the next rung too (G4 after four grey levels)
    and the plan finds its level there: no second pass decodes a page again."""
    from packager import passes

    case = tmp_path / "case"
    case.mkdir()
    (case / "case.toml").write_text(CASE_TOML, encoding="utf-8")
    for i in range(4):
        image, _ = text_page(300, seed=20 + i, size_mm=(105, 148), pt=9)
        (case / f"{i + 1:02d}_letter.jpg").write_bytes(encode_jpeg(image, 90, 300))
    analysed: list[str] = []
    analyse = passes.pool.analyse_pages
    monkeypatch.setattr(passes.pool, "analyse_pages",
                        lambda tasks, *a: (analysed.extend(t.task_id for t in tasks), analyse(tasks, *a))[1])
    out = tmp_path / "out"
    assert main(["build", str(case), "--out", str(out), "--limit", "0.06MB", "--quiet", "--jobs", "1"]) == 0
    m = _manifest(out)
    assert m["plan"]["level"] > 1 and not m["mailed"] and m["upload_bytes"] <= 60_000
    assert "g4" in {p["encoding"].split("@")[0] for o in m["outputs"] for p in o["pages"]}  # level 3's rung
    assert sorted(analysed) == sorted(set(analysed)) and len(analysed) == 4

"""outbox: the read model over an OUTBOX in every state, results as records, and stamp.

The OUTBOX is made the way the watcher makes it (packager.journal's WorkArea, with a crash
injected mid-build); results are manifests written from records, as the build writes them.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

import pikepdf
import pytest

from packager import outbox
from packager.errors import ExitCode, NothingToPackage, OutputError, StampError
from packager.journal import WorkArea
from packager.model import Applicant
from packager.options import BuildOptions
from packager.outbox import CaseState
from packager.result import (
    BuildRecord,
    CaseRecord,
    InputRecord,
    MailedRecord,
    OutputRecord,
    PageRecord,
    PlanRecord,
    manifest_json,
)

CASE_TOML = """application = "extension"
status = "engineer-humanities-international"
[applicant]
name = "TRAN THI MAI"
"""


class Crash(Exception):
    pass


def _record(mailed: bool, name: str = "TRAN THI MAI") -> BuildRecord:
    page = PageRecord("passport.jpg", 0, "original", 300.0, 1234)
    outputs = [OutputRecord("upload/01-passport.pdf", "upload", "passport", "旅券 Passport", 2000, "ab" * 32,
                            (page,), name_ja="旅券", name_en="Passport")]
    if mailed:
        outputs.append(OutputRecord("mail/02-bank-statement.pdf", "mail", "bank-statement", "預金通帳 Bank statement",
                                    3000, "cd" * 32, (), name_ja="預金通帳", name_en="Bank statement",
                                    pristine=".packager/pristine/02-bank-statement.pdf", reason="too large"))
    return BuildRecord(
        packager_version="0.1.0",
        profile="isa-2026",
        built_on=dt.date(2026, 1, 5),
        limit_bytes=25_000_000,
        upload_bytes=2000,
        fits=True,
        case=CaseRecord("extension", "engineer-humanities-international", "", Applicant(name=name)),
        inputs=(InputRecord("passport.jpg", "accepted", "", "ef" * 32, 1234, "jpeg", 1, "passport"),
                InputRecord("x.exe", "rejected", "not a scan")),
        ignored=(),
        outputs=tuple(outputs),
        mailed=(MailedRecord("bank-statement", "預金通帳 Bank statement", "mail/02-bank-statement.pdf", "too large"),)
        if mailed else (),
        dropped_pages=(),
        plan=PlanRecord(0, 24_900_000, 100_000, "files"),
        checklist=None,
    )


def _write_result(folder: Path, record: BuildRecord, *, when: float) -> None:
    folder.mkdir(parents=True)
    (folder / "manifest.json").write_text(json.dumps(manifest_json(record), ensure_ascii=False, indent=2))
    os.utime(folder / "manifest.json", (when, when))


def _fail_build(case_dir: Path, out_dir: Path, options: BuildOptions) -> None:
    raise NothingToPackage(f"{case_dir}: nothing to package (every input was rejected)")


@pytest.fixture
def box(tmp_path: Path) -> Path:
    """An OUTBOX holding one case in every state."""
    inbox, box = tmp_path / "INBOX", tmp_path / "OUTBOX"
    area = WorkArea(inbox, box)
    area.ensure()
    for name in ("failing", "own-reason", "crashing"):
        (inbox / name).mkdir(parents=True)
        (inbox / name / "case.toml").write_text(CASE_TOML.replace("TRAN THI MAI", name.upper()))
    (inbox / "own-reason" / "reason.txt").write_text("the applicant's own letter")
    for name in ("failing", "own-reason"):
        work = area.claim(name)
        assert work is not None
        outcome = area.finish(work, _fail_build, BuildOptions())
        assert outcome is not None and outcome.status == "failed"
    def crash_mid_build(point: str) -> None:
        if point == "build.prepared":
            raise Crash  # the process died here: the journal says "building"

    crashing = WorkArea(inbox, box, crash_at=crash_mid_build)
    work = crashing.claim("crashing")
    assert work is not None
    with pytest.raises(Crash):
        crashing.finish(work, _fail_build, BuildOptions())
    # killed after the claim's folder was made, before its journal was written
    (box / ".work" / "killed-early" / "case").mkdir(parents=True)

    _write_result(box / "ready", _record(mailed=False), when=1_000)
    _write_result(box / "mailing", _record(mailed=True), when=2_000)
    stamped = _record(mailed=True)
    _write_result(box / "stamped", stamped, when=3_000)
    data = json.loads((box / "stamped" / "manifest.json").read_text())
    data["stamp"] = {"receipt": "福オンＥＮ25001878", "filing_date": "2026-01-06", "stamped_at_pages": 2,
                     "shrunk_pages": 0, "files": ["mail/02-bank-statement.pdf"]}
    (box / "stamped" / "manifest.json").write_text(json.dumps(data, ensure_ascii=False))
    os.utime(box / "stamped" / "manifest.json", (3_000, 3_000))
    (box / "broken").mkdir()
    (box / "broken" / "manifest.json").write_text("{not json")
    (box / "not-a-result").mkdir()  # someone's own folder: no manifest
    return box


def test_every_state_is_listed_with_its_facts(box: Path) -> None:
    cases = {e.key: e for e in outbox.list_cases(box)}
    assert set(cases) == {"ready", "mailing", "stamped", "broken", "_failed/failing", "_failed/own-reason",
                          ".work/crashing", ".work/killed-early"}
    assert cases["ready"].state is CaseState.READY and cases["ready"].reason is None
    assert cases["ready"].applicant == "TRAN THI MAI" and cases["ready"].upload_bytes == 2000
    assert cases["ready"].limit_bytes == 25_000_000 and cases["ready"].rejected == 1 and cases["ready"].mailed == 0
    assert cases["mailing"].state is CaseState.NEEDS_MAILING and cases["mailing"].mailed == 1
    assert cases["stamped"].state is CaseState.STAMPED and cases["stamped"].receipt == "福オンＥＮ25001878"
    assert cases["broken"].state is CaseState.READY and "manifest.json" in str(cases["broken"].reason)

    failing = cases["_failed/failing"]
    assert failing.state is CaseState.FAILED and failing.name == "failing"
    assert failing.reason is not None and "every input was rejected" in failing.reason
    assert failing.applicant == "FAILING" and failing.path == box / "_failed" / "failing"
    own = cases["_failed/own-reason"]
    assert own.reason is not None and "every input was rejected" in own.reason  # ours, not the case's letter

    crashed = cases[".work/crashing"]
    assert crashed.state is CaseState.IN_PROGRESS and crashed.stage == "building"
    assert crashed.name == "crashing" and crashed.applicant == "CRASHING"
    early = cases[".work/killed-early"]
    assert early.state is CaseState.IN_PROGRESS and early.name == "killed-early" and early.applicant is None


def test_newest_first_with_utc_times(box: Path) -> None:
    cases = outbox.list_cases(box)
    assert all(e.updated.tzinfo is dt.UTC for e in cases)
    assert [e.updated for e in cases] == sorted((e.updated for e in cases), reverse=True)
    built = [e.key for e in cases if e.key in ("ready", "mailing", "stamped")]
    assert built == ["stamped", "mailing", "ready"]


def test_find_case_looks_keys_up_and_never_joins_them(box: Path) -> None:
    found = outbox.find_case(box, "_failed/failing")
    assert found is not None and found.state is CaseState.FAILED
    assert outbox.find_case(box, "../OUTBOX/ready") is None
    assert outbox.find_case(box, "not-a-result") is None
    assert outbox.find_case(box / "missing", "ready") is None


def test_result_folders_are_the_built_ones(box: Path) -> None:
    assert [p.name for p in outbox.result_folders(box)] == ["broken", "mailing", "ready", "stamped"]


def test_read_result_gives_the_records_back(box: Path) -> None:
    assert outbox.read_result(box / "mailing") == _record(mailed=True)
    stamped = outbox.read_result(box / "stamped")
    assert stamped.stamp is not None and stamped.stamp.filing_date == dt.date(2026, 1, 6)
    with pytest.raises(OutputError, match=r"manifest\.json"):
        outbox.read_result(box / "broken")
    with pytest.raises(OutputError, match=r"no manifest\.json"):
        outbox.read_result(box / "not-a-result")


def test_a_wrong_type_names_its_key(tmp_path: Path) -> None:
    data = manifest_json(_record(mailed=False))
    data["outputs"][0]["bytes"] = "many"
    (tmp_path / "manifest.json").write_text(json.dumps(data))
    with pytest.raises(OutputError, match=r"outputs\[0\]\.bytes") as e:
        outbox.read_result(tmp_path)
    assert e.value.exit_code == ExitCode.OUTPUT_ERROR


def _blank_pdf(path: Path, pages: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pdf = pikepdf.new()
    for _ in range(pages):
        pdf.add_blank_page(page_size=(595, 842))
    pdf.save(path)


def test_stamp_moves_a_case_from_needs_mailing_to_stamped(tmp_path: Path) -> None:
    box = tmp_path / "OUTBOX"
    _write_result(box / "mailing", _record(mailed=True), when=2_000)
    out = box / "mailing"
    _blank_pdf(out / "mail" / "02-bank-statement.pdf", 2)
    _blank_pdf(out / ".packager" / "pristine" / "02-bank-statement.pdf", 2)
    done = outbox.stamp(out, " 福オンＥＮ25001878 ", dt.date(2026, 1, 6), on_date=dt.date(2026, 1, 7))
    assert done.pages == 2 and done.receipt == "福オンＥＮ25001878" and done.cover_sheet == "mail/00-cover-sheet.pdf"
    entry = outbox.find_case(box, "mailing")
    assert entry is not None and entry.state is CaseState.STAMPED and entry.receipt == "福オンＥＮ25001878"
    record = outbox.read_result(out)
    assert record.stamp is not None and record.stamp.files == ("mail/02-bank-statement.pdf",)
    assert any(o.document == "cover-sheet" for o in record.outputs)


def test_stamp_refuses_a_case_with_nothing_mailed(box: Path) -> None:
    with pytest.raises(StampError, match="nothing is mailed"):
        outbox.stamp(box / "ready", "福オンＥＮ25001878")
    with pytest.raises(StampError, match=r"manifest\.json"):
        outbox.stamp(box / "not-a-result", "福オンＥＮ25001878")


def test_cli_lists_the_cases(box: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from packager.cli import main

    assert main(["cases", str(box)]) == ExitCode.OK
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:4] == ["updated", "(UTC)", "state", "case"]
    by_key = {line.split()[3]: line for line in lines[1:]}
    assert "needs-mailing" in by_key["mailing"] and "receipt 福オンＥＮ25001878" in by_key["stamped"]
    assert "every input was rejected" in by_key["_failed/failing"] and "building" in by_key[".work/crashing"]
    assert main(["cases", str(box / "missing")]) == ExitCode.USAGE

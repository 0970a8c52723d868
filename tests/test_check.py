"""`packager check`: ready cases exit 0, a missing passport is named, refused cases exit 7."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from packager.cli import main
from packager.errors import ExitCode
from tests.test_api import make_mini_case


@pytest.fixture(scope="module")
def case(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = make_mini_case(tmp_path_factory.mktemp("check") / "case")
    (folder / "residence-card.jpg").write_bytes((folder / "passport.jpg").read_bytes())
    return folder


def test_complete_case_is_ready_and_nothing_is_written(case: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    before = sorted(p.name for p in case.rglob("*"))
    assert main(["check", str(case)]) == ExitCode.OK
    out = capsys.readouterr().out
    assert "READY to build" in out and "Projected upload" in out
    assert sorted(p.name for p in case.rglob("*")) == before


def test_missing_passport_is_named(case: Path, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    copy = tmp_path / "case"
    copy.mkdir()
    for p in case.iterdir():
        if p.name != "passport.jpg":
            (copy / p.name).write_bytes(p.read_bytes())
    assert main(["check", str(copy)]) == ExitCode.CHECKLIST_INCOMPLETE
    out = capsys.readouterr().out
    assert "MISSING" in out and "旅券" in out and "Passport" in out


def test_permanent_residence_is_refused_with_the_counter(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "case.toml").write_text('application = "permanent-residence"\n', encoding="utf-8")
    assert main(["check", str(tmp_path)]) == ExitCode.NOT_ELIGIBLE_ONLINE
    err = capsys.readouterr().err
    assert "counter" in err and "\n" not in err.strip()


def test_old_photo_and_old_certificate_are_flagged(tmp_path: Path) -> None:
    from packager.api import check
    from packager.summary import render_check_report

    folder = make_mini_case(tmp_path / "case")
    (folder / "tax-certificate.png").write_bytes((folder / "01_employment-certificate.png").read_bytes())
    text = (folder / "case.toml").read_text(encoding="utf-8")
    extra = "employer_category = 3\nphoto_taken = 2026-01-01\n"
    text = text.replace("[applicant]", extra + "[applicant]")
    text += "[issued]\ntax-certificate = 2026-06-01\n"
    (folder / "case.toml").write_text(text, encoding="utf-8")
    report = check(folder, today=dt.date(2026, 11, 26))
    assert not report.ready and report.exit_code == ExitCode.CHECKLIST_INCOMPLETE
    refused = [f.text for f in report.findings if not f.ok]  # records: the faces render them
    assert any("OLDER THAN 6 months" in t for t in refused)
    assert any("tax-certificate issued 2026-06-01: OLDER THAN 3 months" in t for t in refused)
    assert "NO  photo taken 2026-01-01" in render_check_report(report)


def test_unchecked_dates_and_unconfirmed_lines_are_explained(case: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    main(["check", str(case)])
    out = capsys.readouterr().out
    lines = out.splitlines()
    unchecked = [ln for ln in lines if "NOT CHECKED" in ln]
    assert unchecked, out  # the checklist wants recent certificates; case.toml gives no [issued] dates
    assert all(ln.lstrip().startswith("??") for ln in unchecked)  # never "ok" for what was not checked
    assert "??: not checked" in out
    if "UNCONFIRMED" in out.split("UNCONFIRMED:")[0]:
        assert "UNCONFIRMED: the ISA has not published" in out


@pytest.mark.slow
def test_check_projects_what_build_writes(tmp_path: Path) -> None:
    """`check` projects the upload `build` writes within 15 % (measured: small +0.01 %, typical −0.7 %)."""
    import json

    from fixtures.generate import make_case
    from packager import intake, readiness
    from packager.profiles import load_system_profile

    system = load_system_profile()
    make_case("small", tmp_path / "case", seed=1)
    found = intake.scan_case(tmp_path / "case", system)
    projected = readiness.project_upload(found.inputs, system, system.limit_bytes).bytes_
    assert main(["build", str(tmp_path / "case"), "--out", str(tmp_path / "out"), "--quiet"]) == 0
    built = json.loads((tmp_path / "out" / "manifest.json").read_text("utf-8"))["upload_bytes"]
    assert abs(projected - built) <= 0.15 * built, (projected, built)

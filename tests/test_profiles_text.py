"""`packager profiles`, `profiles show NAME|PATH`, the checklist text of `check`, the README table."""

from __future__ import annotations

import importlib
import shutil
from pathlib import Path

import pytest

from packager.checklist import checklist_for, load_application_profiles, match_checklist
from packager.cli import main
from packager.errors import ExitCode, ProfileError
from packager.profiles import load_system_profile, profiles_dir
from packager.profiles_text import (
    checklist_record,
    display_width,
    format_table,
    render_checklist_report,
    render_markdown_table,
    render_profile,
    render_profiles_table,
)
from packager.result import checklist_json

profile_table = importlib.import_module("scripts.profile_table")
ROOT = Path(__file__).resolve().parents[1]


# ---------------------------------------------------------------------------- listing


def test_listing_names_every_profile() -> None:
    text = render_profiles_table()
    assert "isa-2026" in text and "isa-legacy" in text and "25,000,000" in text
    profiles = load_application_profiles()
    for key in profiles.statuses:
        assert key in text
    for key in profiles.index.applications:
        assert key in text
    assert "diplomat" in text and "permanent-residence" in text


def test_cli_lists_profiles_in_process(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["profiles"]) == ExitCode.OK
    assert "engineer-humanities-international" in capsys.readouterr().out


def test_columns_line_up_with_japanese_text() -> None:
    table = format_table(("A", "B", "C"), [("技術", "x", "end"), ("ab", "長い名前", "end")])
    lines = table.splitlines()
    # Column C starts at the same terminal column on every line.
    starts = {display_width(line[: line.index("end")]) for line in lines[1:]}
    assert len(starts) == 1
    assert display_width("技術ab") == 6


# ---------------------------------------------------------------------------- show


def test_show_system_profile_with_sources() -> None:
    text = render_profile("isa-2026")
    assert "25,000,000" in text and "source:" in text and "checked:" in text and "UNCONFIRMED" in text


def test_show_status_prints_every_applications_checklist() -> None:
    text = render_profile("engineer-humanities-international")
    for title in ("Certificate of Eligibility", "Change of status", "Extension of period of stay"):
        assert title in text
    assert "employer-category-proof" in text and "source:" in text


def test_show_accepts_aliases_parts_and_index() -> None:
    assert "Status student" in render_profile("ryugaku")
    assert "Shared part employer-categories" in render_profile("employer-categories")
    assert "Refused statuses" in render_profile("index")


def test_show_unknown_name_suggests() -> None:
    with pytest.raises(ProfileError) as info:
        render_profile("studnet")
    assert "did you mean 'student'" in str(info.value)


def test_cli_show_unknown_name_exits_6_with_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["profiles", "show", "no-such-profile"]) == ExitCode.PROFILE_ERROR
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "no-such-profile" in err


# ---------------------------------------------------------------------------- show PATH: an office's own file


@pytest.fixture
def office_file(tmp_path: Path) -> Path:
    path = tmp_path / "our-student.toml"
    shutil.copy(profiles_dir() / "applications/statuses/student.toml", path)
    return path


def test_show_path_of_a_valid_office_file(office_file: Path) -> None:
    text = office_file.read_text(encoding="utf-8").replace('kind = "transcript"', 'kind = "transcript"\nnote = "ours"')
    office_file.write_text(text, encoding="utf-8")
    out = render_profile(str(office_file))
    assert str(office_file) in out and "Academic transcript" in out


def test_show_path_of_a_new_status_resolves_against_shipped_parts(tmp_path: Path) -> None:
    path = tmp_path / "new.toml"
    path.write_text(
        'profile = "statuses"\nsource = "our office"\nchecked = 2026-11-01\ninclude = ["base"]\n'
        '[statuses.our-status]\ntitle_ja = "試験"\ntitle_en = "Test"\ngroup = "other"\n'
        '[[statuses.our-status.entries]]\nkind = "diploma"\n',
        encoding="utf-8",
    )
    out = render_profile(str(path))
    assert "our-status" in out and "diploma" in out and "residence-card" in out


@pytest.mark.parametrize(
    ("old", "new", "key"),
    [
        ('kind = "transcript"', "kind = 3", "statuses.student.entries[6].kind"),  # wrong type
        ('kind = "transcript"', 'kind = "transcript"\ncolor = 1', "statuses.student.entries[6].color"),  # unknown key
        ('title_en = "Student"\n', "", "statuses.student.title_en"),  # missing name
        ('profile = "statuses"', 'profile = "status"', "profile"),
    ],
)
def test_show_path_of_a_malformed_file_names_file_and_key(
    office_file: Path, old: str, new: str, key: str, capsys: pytest.CaptureFixture[str]
) -> None:
    text = office_file.read_text(encoding="utf-8")
    assert old in text
    office_file.write_text(text.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(ProfileError) as info:
        render_profile(str(office_file))
    assert (info.value.source, info.value.key) == (str(office_file), key)
    assert main(["profiles", "show", str(office_file)]) == ExitCode.PROFILE_ERROR
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and str(office_file) in err and key in err and "Traceback" not in err


def test_show_path_of_a_system_profile_validates_it(tmp_path: Path) -> None:
    path = tmp_path / "ours.toml"
    text = (profiles_dir() / "systems/isa-2026.toml").read_text(encoding="utf-8")
    path.write_text(text.replace("limit_bytes = 25_000_000", 'limit_bytes = "25MB"'), encoding="utf-8")
    with pytest.raises(ProfileError) as info:
        render_profile(str(path))
    assert (info.value.source, info.value.key) == (str(path), "upload.limit_bytes")


def test_show_path_without_a_profile_type(tmp_path: Path) -> None:
    path = tmp_path / "bare.toml"
    path.write_text('source = "x"\n', encoding="utf-8")
    with pytest.raises(ProfileError) as info:
        render_profile(str(path))
    assert info.value.key == "profile"


def test_show_missing_path(tmp_path: Path) -> None:
    with pytest.raises(ProfileError) as info:
        render_profile(str(tmp_path / "nope.toml"))
    assert "no such profile file" in str(info.value)


# ---------------------------------------------------------------------------- check's checklist section


def test_report_text_names_the_missing_passport() -> None:
    checklist = checklist_for("extension", "engineer-humanities-international", 1)
    found = {e.kind: [f"{e.kind}.pdf"] for e in checklist.entries if e.required and e.kind != "passport"}
    text = render_checklist_report(match_checklist(checklist, found))
    missing = [line for line in text.splitlines() if "MISSING" in line]
    assert len(missing) == 1 and "passport" in missing[0]
    assert "Missing, required: 旅券 (Passport)" in text


def test_report_text_for_a_complete_case() -> None:
    checklist = checklist_for("extension", "student")
    found = {e.kind: [f"{e.kind}.pdf"] for e in checklist.entries if e.required}
    text = render_checklist_report(match_checklist(checklist, found))
    assert "MISSING" not in text and "Every required document is present." in text


def test_report_json_carries_entries_and_text() -> None:
    checklist = checklist_for("change", "spouse-of-japanese-national")
    data = checklist_json(checklist_record(match_checklist(checklist, {"passport": ["pp.pdf"], "other": ["x.pdf"]})))
    assert data["ready"] is False and "family-register" in data["missing_required"]
    assert data["unclassified"] == ["x.pdf"]
    assert next(e for e in data["entries"] if e["kind"] == "passport")["files"] == ["pp.pdf"]
    assert data["text"].startswith("Checklist:")


# ---------------------------------------------------------------------------- README table


def test_markdown_table_has_every_status_and_application() -> None:
    table = render_markdown_table()
    profiles = load_application_profiles()
    header = table.splitlines()[0]
    for key in profiles.index.applications:
        assert f"`{key}`" in header
    rows = [line for line in table.splitlines() if line.startswith("| `")]
    assert len(rows) == len(profiles.statuses) + len(profiles.index.refused_statuses) + 1
    temporary = next(r for r in rows if r.startswith("| `temporary-visitor`"))
    assert "online" not in temporary
    engineer = next(r for r in rows if r.startswith("| `engineer-humanities-international`"))
    assert engineer.count("online") == 5 and "only with change/extension/acquisition" in engineer
    assert "permanent residence cannot be applied for online" in table


def test_rewrite_replaces_only_between_markers() -> None:
    text = f"intro\n{profile_table.START}\nold table\n{profile_table.END}\noutro\n"
    new = profile_table.rewrite(text, "| new |\n")
    assert new == f"intro\n{profile_table.START}\n| new |\n{profile_table.END}\noutro\n"
    assert profile_table.rewrite(new, "| new |\n") == new


@pytest.mark.parametrize(
    "text",
    [
        "no markers at all",
        f"{profile_table.START} but no end",
        f"{profile_table.END}\nreversed\n{profile_table.START}\n",
        f"{profile_table.START}\n{profile_table.START}\n{profile_table.END}\n",
    ],
)
def test_rewrite_refuses_bad_markers(text: str) -> None:
    with pytest.raises(profile_table.MarkerError):
        profile_table.rewrite(text, "x")


def test_script_writes_readme_and_doc_then_check_passes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(f"# packager\n\n{profile_table.START}\n{profile_table.END}\n\nmore\n", encoding="utf-8")
    assert profile_table.main(["--check"], root=tmp_path) == 1
    assert profile_table.main([], root=tmp_path) == 0
    assert "rewrote: README.md" in capsys.readouterr().out
    assert render_markdown_table().strip() in readme.read_text(encoding="utf-8")
    assert readme.read_text(encoding="utf-8").endswith("\n\nmore\n")
    assert (tmp_path / "docs/profile-table.md").is_file()
    assert profile_table.main(["--check"], root=tmp_path) == 0


def test_committed_tables_are_up_to_date(capsys: pytest.CaptureFixture[str]) -> None:
    """The README / docs table is generated from the profiles: editing one without the other fails here."""
    assert profile_table.main(["--check"], root=ROOT) == 0, capsys.readouterr().out


def test_script_reports_a_half_pasted_marker(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "README.md").write_text(f"# packager\n{profile_table.START}\n", encoding="utf-8")
    assert profile_table.main([], root=tmp_path) == 2
    assert "profile-table:end" in capsys.readouterr().err


@pytest.mark.parametrize("method", ["flate-grey2", "flate-grey4"])
def test_grey_levels_are_a_bilevel_rung_only(tmp_path: Path, method: str) -> None:
    """flate-grey2/4 are for text pages: a colour ladder that names one is refused with its key."""
    path = tmp_path / "ours.toml"
    text = (profiles_dir() / "systems/isa-2026.toml").read_text(encoding="utf-8")
    old = '{ method = "jpeg-colour", dpi = 300, quality = 80 }'
    path.write_text(text.replace(old, f'{{ method = "{method}", dpi = 300 }}'), encoding="utf-8")
    with pytest.raises(ProfileError) as info:
        render_profile(str(path))
    assert info.value.key == "ladder.colour[2].method"  # after the two MRC rungs
    assert method in str(info.value)


def test_text_ladders_start_with_sixteen_then_four_grey_levels_both_in_the_first_pass() -> None:
    """The shipped profiles: sixteen levels, four, then G4; the first pass makes both grey rungs
    (a case of many text pages fits at four levels with no second pass, bench/README.md)."""
    for name in ("isa-2026", "isa-legacy"):
        system = load_system_profile(name)
        assert [r.label for r in system.ladders["bilevel"]] == ["flate-grey4@300", "flate-grey2@300", "g4@300"]
        assert system.first_pass_rungs == {"bilevel": 2, "grey": 1, "colour": 1}

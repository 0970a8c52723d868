"""Application profiles: loading and validation, checklist resolution, matching found documents."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from packager.checklist import (
    Checklist,
    ChecklistEntry,
    ChecklistReport,
    checklist_for,
    load_application_profiles,
    load_checklist,
    match_checklist,
)
from packager.eligibility import all_applications
from packager.errors import ExitCode, NotEligibleOnline, ProfileError
from packager.model import CaseInfo
from packager.profiles import load_kinds, profiles_dir

DETAILED = (
    "engineer-humanities-international",
    "student",
    "dependent",
    "spouse-of-japanese-national",
    "specified-skilled-worker-1",
)


def kinds_of(checklist: Checklist, *, required: bool | None = None) -> list[str]:
    return [e.kind for e in checklist.entries if required is None or e.required == required]


def entry(checklist: Checklist, kind: str) -> ChecklistEntry:
    (found,) = [e for e in checklist.entries if e.kind == kind]
    return found


# ---------------------------------------------------------------------------- the shipped data


def test_shipped_profiles_load_and_carry_sources() -> None:
    profiles = load_application_profiles()
    assert {"base", "employer-categories"} <= set(profiles.parts)
    for status in profiles.statuses.values():
        assert status.source and status.checked is not None, status.key
        assert status.title_ja and status.title_en
    for part in profiles.parts.values():
        assert part.source and part.checked is not None
    for key in DETAILED:
        assert profiles.statuses[key].detailed, key


def test_every_online_combination_resolves_to_a_valid_checklist() -> None:
    kinds = load_kinds()
    online = [(a, s) for a, s, v in all_applications() if v == "online"]
    assert len(online) > 150
    for application, status in online:
        for category in (None, 1, 2, 3, 4):
            checklist = checklist_for(application, status, category)
            assert checklist.entries, (application, status)
            assert checklist.source and checklist.checked is not None
            for e in checklist.entries:
                assert e.kind in kinds and e.name_ja and e.name_en
            orders = [e.order for e in checklist.entries]
            assert orders == sorted(orders), "entries are in checklist order"
            if category is not None:
                # With the category known, each kind is one line: found files match one entry.
                assert len(kinds_of(checklist)) == len(set(kinds_of(checklist))), (application, status, category)


def test_base_set_statuses_say_so() -> None:
    for key in ("professor", "long-term-resident", "designated-activities-startup", "cultural-activities"):
        checklist = checklist_for("extension", key)
        assert not checklist.detailed
        assert any("Base documents only" in n for n in checklist.notes), key
        assert kinds_of(checklist, required=True) == ["photo", "passport", "residence-card"]


def test_entries_take_defaults_from_kinds() -> None:
    passport = entry(checklist_for("extension", "student"), "passport")
    kind = load_kinds()["passport"]
    assert (passport.mail_priority, passport.colour, passport.order) == (kind.mail_priority, kind.colour, kind.order)


# ---------------------------------------------------------------------------- employer categories


def test_engineer_extension_category_1_needs_only_the_category_proof() -> None:
    checklist = checklist_for("extension", "engineer-humanities-international", 1)
    assert kinds_of(checklist, required=True) == ["photo", "passport", "residence-card", "employer-category-proof"]
    assert "tax-certificate" not in kinds_of(checklist)


def test_engineer_extension_category_3_needs_tax_certificates_issued_within_3_months() -> None:
    checklist = checklist_for("extension", "engineer-humanities-international", 3)
    required = kinds_of(checklist, required=True)
    assert {"statutory-report-summary", "tax-certificate", "tax-payment-certificate"} <= set(required)
    assert "employer-category-proof" not in kinds_of(checklist)
    assert entry(checklist, "tax-certificate").issued_within_months == 3
    assert entry(checklist, "tax-certificate").condition == "employer category 3–4"


def test_engineer_change_category_4_needs_company_and_applicant_papers() -> None:
    checklist = checklist_for("change", "engineer-humanities-international", 4)
    required = set(kinds_of(checklist, required=True))
    assert {"employment-contract", "company-registry", "diploma", "resume", "financial-statements"} <= required
    assert "statutory-report-summary" not in kinds_of(checklist)
    assert not entry(checklist, "business-plan").required


def test_engineer_coe_has_no_residence_card_and_an_optional_passport() -> None:
    checklist = checklist_for("coe", "engineer-humanities-international", 2)
    assert "residence-card" not in kinds_of(checklist)
    assert not entry(checklist, "passport").required
    assert entry(checklist, "statutory-report-summary").required


def test_without_employer_category_the_category_lines_are_conditional() -> None:
    checklist = checklist_for("change", "engineer-humanities-international")
    proof = entry(checklist, "employer-category-proof")
    assert not proof.required and "no employer_category" in proof.condition
    assert entry(checklist, "passport").required


def test_category_statuses_other_than_engineer_share_the_part() -> None:
    checklist = checklist_for("extension", "intra-company-transferee", 3)
    assert "tax-payment-certificate" in kinds_of(checklist, required=True)
    assert checklist.unconfirmed, "the shared category lines are marked unconfirmed for this status"


# ---------------------------------------------------------------------------- detailed statuses


def test_student_extension() -> None:
    checklist = checklist_for("extension", "student")
    assert {"enrollment-certificate", "transcript"} <= set(kinds_of(checklist, required=True))
    assert entry(checklist, "enrollment-certificate").issued_within_months == 3
    assert not entry(checklist, "attendance-certificate").required


def test_dependent_needs_the_supporters_papers() -> None:
    checklist = checklist_for("extension", "dependent")
    assert {"supporter-id", "employment-certificate", "tax-certificate"} <= set(kinds_of(checklist, required=True))
    assert "扶養者" in entry(checklist, "tax-certificate").name_ja


def test_spouse_of_japanese_national_change() -> None:
    checklist = checklist_for("change", "spouse-of-japanese-national")
    required = set(kinds_of(checklist, required=True))
    assert {"family-register", "marriage-certificate", "letter-of-guarantee", "questionnaire"} <= required
    assert entry(checklist, "family-register").issued_within_months == 3
    assert entry(checklist, "relationship-photos").colour


def test_specified_skilled_worker_change() -> None:
    checklist = checklist_for("change", "specified-skilled-worker-1")
    assert {"employment-contract", "support-plan", "medical-certificate"} <= set(kinds_of(checklist, required=True))
    assert checklist.unconfirmed


# ---------------------------------------------------------------------------- load_checklist(case)


def test_no_application_means_no_checklist() -> None:
    assert load_checklist(CaseInfo()) is None
    assert load_checklist(CaseInfo(status="student")) is None


def test_load_checklist_reads_category_and_add_ons_from_the_case() -> None:
    case = CaseInfo(
        application="change",
        status="engineer",  # an alias
        current_status="student",
        employer_category=3,
        with_=("re-entry-permit",),
    )
    checklist = load_checklist(case)
    assert checklist is not None
    assert checklist.status == "engineer-humanities-international"
    assert checklist.employer_category == 3 and checklist.with_ == ("re-entry-permit",)
    assert any("再入国許可申請" in n for n in checklist.notes)
    assert entry(checklist, "statutory-report-summary").required


def test_load_checklist_without_status_asks_for_the_desired_one() -> None:
    with pytest.raises(ProfileError) as info:
        load_checklist(CaseInfo(application="change"))
    assert info.value.key == "status" and "DESIRED" in str(info.value)


def test_load_checklist_for_a_refused_case_raises_not_eligible() -> None:
    with pytest.raises(NotEligibleOnline):
        load_checklist(CaseInfo(application="permanent-residence"))
    with pytest.raises(NotEligibleOnline):
        load_checklist(CaseInfo(application="extension", status="temporary-visitor"))


# ---------------------------------------------------------------------------- matching


def test_match_reports_found_missing_unlisted_and_unclassified() -> None:
    checklist = checklist_for("extension", "engineer-humanities-international", 3)
    found = {
        "photo": ["photo.jpg"],
        "residence-card": ["rc-front.jpg", "rc-back.jpg"],
        "tax-certificate": ["kazei.pdf"],
        "tax-payment-certificate": ["nozei.pdf"],
        "statutory-report-summary": ["hotei.pdf"],
        "bank-statement": ["bank.pdf"],
        "other": ["scan0007.pdf"],
    }
    report = match_checklist(checklist, found)
    assert not report.ready
    assert [e.kind for e in report.missing_required] == ["passport"]
    by_kind = {r.entry.kind: r for r in report.entries}
    assert by_kind["residence-card"].files == ("rc-front.jpg", "rc-back.jpg")
    assert not by_kind["passport"].present
    assert report.unlisted == (("bank-statement", ("bank.pdf",)),)
    assert report.unclassified == ("scan0007.pdf",)
    assert [r.entry.kind for r in report.entries] == kinds_of(checklist)


def test_match_complete_case_is_ready_and_optional_lines_do_not_block() -> None:
    checklist = checklist_for("extension", "engineer-humanities-international", 3)
    found = {kind: [f"{kind}.pdf"] for kind in kinds_of(checklist, required=True)}
    report = match_checklist(checklist, found)
    assert report.ready and not report.missing_required
    assert not by_kind_found(report, "employment-certificate")


def by_kind_found(report: ChecklistReport, kind: str) -> bool:
    return next(r for r in report.entries if r.entry.kind == kind).present


def test_match_ignores_empty_lists() -> None:
    checklist = checklist_for("extension", "student")
    report = match_checklist(checklist, {"passport": [], "diploma": []})
    assert "passport" in [e.kind for e in report.missing_required]
    assert report.unlisted == ()


# ---------------------------------------------------------------------------- malformed profiles


@pytest.fixture
def profiles_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A writable copy of the shipped profiles, in use for the test."""
    target = tmp_path / "profiles"
    shutil.copytree(profiles_dir(), target)
    monkeypatch.setenv("PACKAGER_PROFILES_DIR", str(target))
    return target


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def load_error() -> ProfileError:
    with pytest.raises(ProfileError) as info:
        load_application_profiles()
    err = info.value
    assert err.exit_code == ExitCode.PROFILE_ERROR
    assert "\n" not in str(err), "one line, not a traceback"
    return err


def test_copy_of_shipped_profiles_loads(profiles_copy: Path) -> None:
    assert load_application_profiles().index.path.is_relative_to(profiles_copy)


def test_wrong_type_names_file_and_key(profiles_copy: Path) -> None:
    path = profiles_copy / "applications/statuses/student.toml"
    edit(path, 'kind = "transcript"\napplications = ["extension"]', 'kind = "transcript"\napplications = "extension"')
    err = load_error()
    assert err.source == str(path) and err.key == "statuses.student.entries[6].applications"
    assert "must be a list of texts" in str(err)


def test_wrong_type_of_required_flag(profiles_copy: Path) -> None:
    path = profiles_copy / "applications/parts/base.toml"
    edit(path, "required = false", 'required = "no"')
    err = load_error()
    assert err.source == str(path) and err.key == "entries[2].required"


def test_unknown_key_names_file_and_key(profiles_copy: Path) -> None:
    path = profiles_copy / "applications/statuses/dependent.toml"
    edit(path, 'kind = "supporter-id"', 'kind = "supporter-id"\nrequird = true')
    err = load_error()
    assert err.source == str(path) and err.key == "statuses.dependent.entries[2].requird"
    assert "not a known key" in str(err)


def test_missing_name_names_file_and_key(profiles_copy: Path) -> None:
    path = profiles_copy / "applications/statuses/family.toml"
    edit(path, 'title_ja = "定住者"\n', "")
    err = load_error()
    assert err.source == str(path) and err.key == "statuses.long-term-resident.title_ja" and "is missing" in str(err)


def test_missing_part_name(profiles_copy: Path) -> None:
    path = profiles_copy / "applications/parts/base.toml"
    edit(path, 'name = "base"\n', "")
    err = load_error()
    assert (err.source, err.key) == (str(path), "name")


def test_unknown_kind_is_suggested(profiles_copy: Path) -> None:
    path = profiles_copy / "applications/statuses/student.toml"
    edit(path, 'kind = "transcript"', 'kind = "transcripts"')
    err = load_error()
    assert err.key.endswith(".kind") and "did you mean 'transcript'" in str(err)


def test_unknown_include(profiles_copy: Path) -> None:
    path = profiles_copy / "applications/statuses/work.toml"
    edit(path, 'include = ["base"]', 'include = ["bsae"]')
    err = load_error()
    assert (err.source, err.key) == (str(path), "include[0]") and "did you mean 'base'" in str(err)


def test_bad_employer_category_in_a_profile(profiles_copy: Path) -> None:
    path = profiles_copy / "applications/parts/employer-categories.toml"
    edit(path, "when = { employer_category = [1] }", "when = { employer_category = [5] }")
    err = load_error()
    assert err.key == "entries[0].when.employer_category"


def test_kind_listed_twice_for_the_same_application(profiles_copy: Path) -> None:
    path = profiles_copy / "applications/statuses/student.toml"
    old = 'kind = "transcript"\napplications = ["extension"]'
    edit(path, old, old.replace("transcript", "enrollment-certificate"))
    err = load_error()
    assert "listed twice" in str(err) and err.key.endswith(".kind")


def test_alias_clash_across_files(profiles_copy: Path) -> None:
    path = profiles_copy / "applications/statuses/student.toml"
    edit(path, 'aliases = ["ryugaku", "college-student"]', 'aliases = ["ryugaku", "short-term-stay"]')
    err = load_error()
    assert err.source == str(path) and "temporary-visitor" in str(err)


def test_bad_key_spelling(profiles_copy: Path) -> None:
    path = profiles_copy / "applications/statuses/family.toml"
    edit(path, "[statuses.long-term-resident]", "[statuses.Long_Term_Resident]")
    err = load_error()
    assert "lower-case words joined by '-'" in str(err)


def test_refused_application_needs_its_reason(profiles_copy: Path) -> None:
    path = profiles_copy / "applications/index.toml"
    edit(path, 'refused = "permanent residence cannot be applied for online (ISA Q&A Q1-5)"\n', "")
    err = load_error()
    assert (err.source, err.key) == (str(path), "applications.permanent-residence.refused")


def test_invalid_toml_names_the_file(profiles_copy: Path) -> None:
    path = profiles_copy / "applications/statuses/dependent.toml"
    path.write_text(path.read_text(encoding="utf-8") + "\n[[oops\n", encoding="utf-8")
    err = load_error()
    assert err.source == str(path) and "not valid TOML" in str(err)


def test_wrong_profile_type_in_a_folder(profiles_copy: Path) -> None:
    path = profiles_copy / "applications/parts/base.toml"
    edit(path, 'profile = "part"', 'profile = "statuses"')
    err = load_error()
    assert (err.source, err.key) == (str(path), "profile")


def test_status_entry_replaces_the_part_entry_of_its_kind(profiles_copy: Path) -> None:
    path = profiles_copy / "applications/statuses/student.toml"
    path.write_text(
        path.read_text(encoding="utf-8")
        + '\n[[statuses.student.entries]]\nkind = "passport"\nrequired = false\napplications = ["extension"]\n'
        'condition = "shown at the counter instead"\n',
        encoding="utf-8",
    )
    extension = checklist_for("extension", "student")
    assert kinds_of(extension).count("passport") == 1
    assert not entry(extension, "passport").required
    assert entry(checklist_for("change", "student"), "passport").required, "other applications keep the base line"

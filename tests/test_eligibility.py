"""Eligibility: every refusal of issue 5 point 2, and the case.toml mistakes that are not refusals."""

from __future__ import annotations

import pytest

from packager.eligibility import all_applications, check_eligibility, find_refusal
from packager.errors import ExitCode, NotEligibleOnline, ProfileError
from packager.model import CaseInfo

COUNTER = "counter of the regional immigration bureau"


def refused(**fields: object) -> NotEligibleOnline:
    with pytest.raises(NotEligibleOnline) as info:
        check_eligibility(CaseInfo(**fields))  # type: ignore[arg-type]
    err = info.value
    assert err.exit_code == ExitCode.NOT_ELIGIBLE_ONLINE == 7
    assert COUNTER in str(err), "every refusal names the alternative"
    assert "\n" not in str(err)
    return err


def profile_error(**fields: object) -> ProfileError:
    with pytest.raises(ProfileError) as info:
        check_eligibility(CaseInfo(**fields))  # type: ignore[arg-type]
    err = info.value
    assert err.exit_code == ExitCode.PROFILE_ERROR
    assert err.source == "case.toml"
    assert "\n" not in str(err)
    return err


# ---------------------------------------------------------------------------- refusals


def test_permanent_residence_is_a_known_key_that_is_refused() -> None:
    err = refused(application="permanent-residence")
    assert "Permanent residence" in str(err) and "Q1-5" in str(err)


@pytest.mark.parametrize("key", ["residence-card", "residence-card-renewal", "residence-card-reissue"])
def test_residence_card_procedures_are_refused(key: str) -> None:
    assert "residence card procedures" in str(refused(application=key))


@pytest.mark.parametrize("key", ["re-entry-permit", "activity-outside-status"])
def test_add_on_applications_on_their_own_are_refused(key: str) -> None:
    err = refused(application=key, status="engineer-humanities-international")
    assert "only together with" in str(err)


@pytest.mark.parametrize("add_on", ["re-entry-permit", "activity-outside-status"])
@pytest.mark.parametrize("host", ["coe", "work-certificate"])
def test_add_on_with_a_host_that_does_not_take_it_is_refused(add_on: str, host: str) -> None:
    err = refused(application=host, status="student", with_=(add_on,))
    assert "only together with" in str(err)


def test_add_on_without_application_is_refused() -> None:
    assert "on its own" in str(refused(with_=("re-entry-permit",)))


@pytest.mark.parametrize("host", ["change", "extension", "acquisition"])
def test_add_ons_together_with_change_extension_acquisition_are_online(host: str) -> None:
    current = "student" if host == "change" else ""
    case = CaseInfo(
        application=host,
        status="engineer-humanities-international",
        current_status=current,
        with_=("re-entry-permit", "activity-outside-status"),
    )
    check_eligibility(case)


@pytest.mark.parametrize(
    ("status", "words"),
    [
        ("diplomat", "Diplomat"),
        ("temporary-visitor", "Temporary Visitor"),
        ("designated-activities-departure-preparation", "Departure Preparation"),
        ("special-permanent-resident", "Special Status"),
        ("special-status-of-residence", "Special Status"),
    ],
)
@pytest.mark.parametrize("application", ["coe", "change", "extension", "acquisition", "work-certificate"])
def test_no_application_into_a_refused_status(application: str, status: str, words: str) -> None:
    current = "student" if application == "change" else ""
    err = refused(application=application, status=status, current_status=current)
    assert words in str(err) and "into" in str(err)


@pytest.mark.parametrize("current", ["diplomat", "temporary-visitor", "designated-activities-departure-preparation"])
def test_no_application_by_a_holder_of_a_refused_status(current: str) -> None:
    err = refused(application="change", status="engineer-humanities-international", current_status=current)
    assert "by" in str(err)


def test_every_short_term_stay_to_long_term_change_is_refused() -> None:
    for status in ("student", "spouse-of-japanese-national", "engineer-humanities-international", "dependent"):
        err = refused(application="change", status=status, current_status="temporary-visitor")
        assert "short-term stay" in str(err)


def test_short_term_alias_is_understood() -> None:
    refused(application="change", status="student", current_status="short-term-stay")


def test_change_into_temporary_visitor_hints_that_status_names_the_desired_one() -> None:
    err = refused(application="change", status="temporary-visitor", current_status="student")
    assert "DESIRED" in str(err)


def test_designated_activity_not_on_the_isa_list_is_refused() -> None:
    err = refused(application="change", status="designated-activities-medical-stay", current_status="student")
    assert "not on the ISA's list" in str(err)


def test_listed_designated_activities_are_online() -> None:
    for key in ("designated-activities-job-hunting", "designated-activities-j-find", "designated-activities-46"):
        check_eligibility(CaseInfo(application="change", status=key, current_status="student"))


def test_application_a_listed_status_does_not_take_online_is_refused() -> None:
    err = refused(application="extension", status="designated-activities-international-cultural-exchange")
    assert "excludes this application" in str(err)


def test_eligible_cases_pass() -> None:
    check_eligibility(CaseInfo(application="extension", status="engineer-humanities-international"))
    check_eligibility(CaseInfo(application="coe", status="spouse-of-japanese-national"))
    check_eligibility(CaseInfo(application="extension", status="student", current_status="student"))


def test_an_empty_case_is_not_refused() -> None:
    check_eligibility(CaseInfo())
    assert find_refusal(CaseInfo()) is None


# ---------------------------------------------------------------------------- case.toml mistakes


def test_unknown_application_names_the_key_and_suggests() -> None:
    err = profile_error(application="extention", status="student")
    assert err.key == "application" and "'extension'" in str(err)


def test_unknown_status_names_the_key_and_suggests() -> None:
    err = profile_error(application="extension", status="enginer-humanities-international")
    assert err.key == "status" and "did you mean 'engineer-humanities-international'" in str(err)


def test_unknown_current_status_names_its_key() -> None:
    assert profile_error(application="change", status="student", current_status="studnet").key == "current_status"


def test_bare_designated_activities_must_name_the_activity() -> None:
    err = profile_error(application="change", status="designated-activities", current_status="student")
    assert "designated-activities-job-hunting" in str(err)


def test_change_into_the_current_status_asks_for_the_desired_one() -> None:
    err = profile_error(application="change", status="student", current_status="student")
    assert err.key == "status" and "DESIRED" in str(err)


def test_change_through_an_alias_of_the_current_status_is_caught() -> None:
    err = profile_error(
        application="change", status="child-of-japanese-national", current_status="spouse-of-japanese-national"
    )
    assert "DESIRED" in str(err)


def test_extension_into_another_status_is_a_mistake() -> None:
    err = profile_error(application="extension", status="student", current_status="dependent")
    assert err.key == "current_status" and "change" in str(err)


def test_unknown_add_on_is_a_profile_error() -> None:
    err = profile_error(application="extension", status="student", with_=("reentry",))
    assert err.key == "with[0]" and "re-entry" in str(err)


def test_main_application_as_add_on_is_a_profile_error() -> None:
    err = profile_error(application="extension", status="student", with_=("change",))
    assert "not filed alongside" in str(err)


@pytest.mark.parametrize("value", [5, 0, -1])
def test_bad_employer_category(value: int) -> None:
    err = profile_error(application="extension", status="engineer-humanities-international",
                        employer_category=value)
    assert err.key == "employer_category"


# ---------------------------------------------------------------------------- the whole matrix


def test_matrix_covers_every_combination_once() -> None:
    rows = all_applications()
    pairs = [(a, s) for a, s, _ in rows]
    assert len(pairs) == len(set(pairs))
    verdict = {(a, s): v for a, s, v in rows}
    assert verdict[("extension", "engineer-humanities-international")] == "online"
    assert verdict[("change", "temporary-visitor")] != "online"
    assert verdict[("coe", "diplomat")] != "online"
    assert all(v != "online" for (a, _), v in verdict.items() if a == "permanent-residence")
    assert all(v != "online" for (a, _), v in verdict.items() if a == "re-entry-permit")
    online_statuses = {s for (a, s), v in verdict.items() if a == "change" and v == "online"}
    for key in (
        "student", "dependent", "spouse-of-japanese-national", "spouse-of-permanent-resident", "long-term-resident",
        "specified-skilled-worker-1", "highly-skilled-professional-1", "intra-company-transferee",
        "designated-activities-startup", "designated-activities-internship", "designated-activities-hsp-working-spouse",
        "designated-activities-nikkei-fourth-generation",
    ):
        assert key in online_statuses

"""May this case be filed online at all? Refuse before any work, and say where to file instead.

The rules are the ISA's (online Q&A A1-4, Q1-5; docs/online-system.md), the data is
profiles/applications/index.toml and the status profiles; this module only applies them:

- refused applications: permanent residence, residence-card procedures;
- re-entry permit and activity outside status only together with change, extension or
  acquisition (case.toml: `with = ["re-entry-permit"]`), never on their own;
- no application by (current_status) or into (status) Diplomat, Temporary Visitor,
  Designated Activities (Departure Preparation Period), the Special Status of Residence;
- designated activities not on the ISA's list;
- applications a listed status does not take online (e.g. an extension for notice 15).

Unknown keys in case.toml are ProfileErrors naming case.toml and the key (exit 6), not
refusals. For a change of status, case.toml names the DESIRED new status (the seed stresses
that the applicant selects the new one): a status equal to current_status is an error.
"""

from __future__ import annotations

from dataclasses import dataclass

from packager.checklist import (
    CASE_SOURCE,
    ApplicationType,
    StatusRef,
    case_employer_category,
    case_with,
    load_application_profiles,
    resolve_application,
    resolve_status,
)
from packager.errors import NotEligibleOnline, ProfileError
from packager.model import CaseInfo


@dataclass(frozen=True)
class Refusal:
    """Why a case cannot be filed online."""

    subject: str  # what is refused, for people: "永住許可申請 (Permanent residence)"
    reason: str  # the rule, with its source
    hint: str = ""  # a likely mistake in case.toml, when one is visible

    def message(self, counter: str) -> str:
        hint = f" ({self.hint})" if self.hint else ""
        return f"Cannot be filed online: {self.subject}: {self.reason}{hint}. Instead, {counter}."


def check_eligibility(case: CaseInfo) -> None:
    """Raise NotEligibleOnline (exit 7) when the case cannot be filed online; ProfileError for bad keys."""
    refusal = find_refusal(case)
    if refusal is not None:
        raise NotEligibleOnline(refusal.message(load_application_profiles().index.counter))


def find_refusal(case: CaseInfo) -> Refusal | None:
    """The first rule that keeps this case off the online system, or None when it may go online."""
    profiles = load_application_profiles()
    index = profiles.index
    app = resolve_application(case.application) if case.application.strip() else None
    status = resolve_status(case.status) if case.status.strip() else None
    current = resolve_status(case.current_status, "current_status") if case.current_status.strip() else None
    with_ = case_with(case)
    case_employer_category(case)  # validated here so `check` reports a bad value before any work

    if app is not None:
        _check_consistency(app.key, status, current)
        if not app.online:
            return Refusal(f"{app.title_ja} ({app.title_en})", app.refused)
    for key in with_:
        extra = index.applications[key]
        if app is None or app.key not in extra.add_on_to:
            alone = "on its own" if app is None else f"with {app.title_en}"
            return Refusal(f"{extra.title_ja} ({extra.title_en}) {alone}", extra.refused)
    for ref, role in ((current, "by"), (status, "into")):
        if ref is None:
            continue
        if ref.kind == "refused":
            reason = index.refused_statuses[ref.key].reason
            return Refusal(f"an application {role} {ref.title}", reason, _reversed_hint(app, status, current, ref))
        if ref.kind == "unlisted-designated":
            return Refusal(f"an application {role} {ref.title}", index.designated_refused)
    if app is not None and status is not None:
        profile = profiles.statuses[status.key]
        if app.key not in profile.applications:
            allowed = ", ".join(profiles.index.applications[a].title_en for a in profile.applications)
            return Refusal(
                f"{app.title_ja} ({app.title_en}) for {status.title}",
                f"the ISA's online list excludes this application for this status (online: {allowed}); "
                f"source: {profile.source}",
            )
    return None


def _check_consistency(application: str, status: StatusRef | None, current: StatusRef | None) -> None:
    if status is None or current is None:
        return
    if application == "change" and status.key == current.key:
        raise ProfileError(
            CASE_SOURCE,
            "status",
            f"is the same as current_status ({status.key!r}): for a change of status, `status` names the DESIRED "
            "new status and `current_status` the one held now",
        )
    if application == "extension" and status.key != current.key:
        raise ProfileError(
            CASE_SOURCE,
            "current_status",
            f"is {current.key!r} but status is {status.key!r}: an extension keeps the current status "
            "(for a new status use application = \"change\", with status = the desired one)",
        )


def _reversed_hint(
    app: ApplicationType | None, status: StatusRef | None, current: StatusRef | None, refused: StatusRef
) -> str:
    """A change INTO a refused status with an online current status is most likely written backwards."""
    if app is None or app.key != "change" or refused is not status:
        return ""
    if current is not None and current.kind == "online":
        return (
            f"if {refused.key!r} is the status held now, note that `status` names the DESIRED new status "
            f"and `current_status` the current one"
        )
    if current is None:
        return "`status` names the DESIRED new status; give the one held now as current_status"
    return ""


def all_applications() -> list[tuple[str, str, str]]:
    """(application, status, "online" or the refusal reason) for every application × status."""
    profiles = load_application_profiles()
    statuses = [*profiles.statuses, *profiles.index.refused_statuses, f"{profiles.index.designated_prefix}-other"]
    rows: list[tuple[str, str, str]] = []
    for application in profiles.index.applications:
        for status in statuses:
            refusal = find_refusal(CaseInfo(application=application, status=status))
            rows.append((application, status, refusal.reason if refusal else "online"))
    return rows

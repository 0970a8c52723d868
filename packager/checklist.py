"""Application profiles: which documents an application needs, and which of them a case has.

The data lives in profiles/applications/ (see index.toml there):
  index.toml             application types, refused ones, refused statuses, designated activities
  parts/*.toml           shared lists (base documents, employer categories 1–4) that statuses include
  statuses/*.toml        one table per status of residence: titles, includes, own entries

A checklist is resolved for one (application, status): the included parts' entries first, then
the status's own; an entry of a later layer replaces earlier entries of the same kind. Entries
conditional on the employer category are filtered by case.toml's `employer_category` (1–4), or
listed as conditional when the case does not say.

case.toml keys read here (parsed once by intake.read_case_info into CaseInfo's typed fields):
  employer_category = 3                     employer category 1–4 of work statuses
  with = ["re-entry-permit"]                applications filed together with the main one
"""

from __future__ import annotations

import datetime as dt
import difflib
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache, cached_property
from pathlib import Path

from packager.errors import NotEligibleOnline, ProfileError
from packager.model import CaseInfo, DocumentKind
from packager.profiles import Table, load_kinds, profiles_dir, read_toml

CASE_SOURCE = "case.toml"
EMPLOYER_CATEGORIES = (1, 2, 3, 4)
STATUS_GROUPS = ("work", "study", "family", "designated", "other")
PROFILE_TYPES = ("index", "part", "statuses")


# ---------------------------------------------------------------------------- public records


@dataclass(frozen=True)
class ChecklistEntry:
    """One line of a resolved checklist (提出書類一覧表), in the case's terms."""

    kind: str  # key in profiles/kinds.toml
    name_ja: str
    name_en: str
    required: bool  # False: conditional or optional (see `condition`)
    condition: str  # when the line applies, for people ("employer category 3–4"); "" if always
    order: int  # checklist position (lower first)
    mail_priority: int  # lower is mailed first when the upload cannot fit
    colour: bool  # colour matters for this document
    issued_within_months: int | None  # the certificate must be this recent, or None
    note: str = ""
    unconfirmed: bool = False  # the line is not confirmed against the ISA's own list


@dataclass(frozen=True)
class Checklist:
    """The documents one application needs, in checklist order."""

    application: str  # application key ("extension")
    status: str  # status key ("engineer-humanities-international"); for change, the desired one
    title_ja: str  # "在留期間更新許可申請 — 技術・人文知識・国際業務"
    title_en: str
    source: str  # where the lines come from (status profile and included parts)
    checked: dt.date | None  # the oldest date any of those sources was checked
    notes: tuple[str, ...]
    entries: tuple[ChecklistEntry, ...]
    unconfirmed: tuple[str, ...] = ()
    detailed: bool = False  # False: base documents only (the profile says so in its notes)
    employer_category: int | None = None
    with_: tuple[str, ...] = ()  # add-on applications filed together (re-entry-permit …)


@dataclass(frozen=True)
class EntryResult:
    entry: ChecklistEntry
    files: tuple[str, ...]  # case files of this kind, as given in `files_by_kind`

    @property
    def present(self) -> bool:
        return bool(self.files)


@dataclass(frozen=True)
class ChecklistReport:
    """A checklist matched against the documents found in a case."""

    checklist: Checklist
    entries: tuple[EntryResult, ...]  # in checklist order
    missing_required: tuple[ChecklistEntry, ...]
    unlisted: tuple[tuple[str, tuple[str, ...]], ...]  # (kind, files) of kinds not on the checklist
    unclassified: tuple[str, ...]  # files of kind "other": packager could not tell what they are

    @property
    def ready(self) -> bool:
        return not self.missing_required


# ---------------------------------------------------------------------------- profile records


@dataclass(frozen=True)
class ApplicationType:
    key: str
    title_ja: str
    title_en: str
    online: bool
    refused: str  # why not online ("" when online)
    add_on_to: tuple[str, ...]  # may be filed online only together with one of these
    aliases: tuple[str, ...]


@dataclass(frozen=True)
class RefusedStatus:
    key: str
    title_ja: str
    title_en: str
    reason: str
    aliases: tuple[str, ...]


@dataclass(frozen=True)
class ApplicationIndex:
    path: Path
    source: str
    checked: dt.date | None
    unconfirmed: tuple[str, ...]
    counter: str  # the alternative to online filing, for refusal messages
    applications: dict[str, ApplicationType]  # in file order
    refused_statuses: dict[str, RefusedStatus]
    designated_prefix: str
    designated_refused: str

    @property
    def online_applications(self) -> tuple[str, ...]:
        return tuple(k for k, a in self.applications.items() if a.online)


@dataclass(frozen=True)
class EntrySpec:
    """A checklist line as a profile states it (before resolving it for a case)."""

    where: str  # "file: key" of the entry, for messages
    kind: str
    required: bool
    applications: tuple[str, ...]
    employer_categories: tuple[int, ...] | None  # None: unconditional
    condition: str
    name_ja: str
    name_en: str
    order: int
    mail_priority: int
    colour: bool
    issued_within_months: int | None
    note: str
    unconfirmed: bool

    def applies(self, application: str, employer_category: int | None) -> bool:
        if application not in self.applications:
            return False
        if self.employer_categories is None or employer_category is None:
            return True
        return employer_category in self.employer_categories


@dataclass(frozen=True)
class Part:
    name: str
    title: str
    path: Path
    source: str
    checked: dt.date | None
    unconfirmed: tuple[str, ...]
    notes: tuple[str, ...]
    entries: tuple[EntrySpec, ...]


@dataclass(frozen=True)
class StatusProfile:
    key: str
    title_ja: str
    title_en: str
    group: str
    detailed: bool
    aliases: tuple[str, ...]
    includes: tuple[str, ...]  # part names, in layer order
    applications: tuple[str, ...]  # online application types this status takes
    path: Path
    source: str
    checked: dt.date | None
    unconfirmed: tuple[str, ...]
    notes: tuple[str, ...]
    entries: tuple[EntrySpec, ...]


@dataclass(frozen=True)
class ApplicationProfiles:
    """Every application profile, validated together."""

    index: ApplicationIndex
    parts: dict[str, Part]
    statuses: dict[str, StatusProfile]  # key → profile, by group, then in file order

    @cached_property
    def application_names(self) -> dict[str, str]:
        """Every application key and alias → application key."""
        names = {k: k for k in self.index.applications}
        for k, a in self.index.applications.items():
            for alias in a.aliases:
                names.setdefault(alias, k)
        return names

    @cached_property
    def status_names(self) -> dict[str, tuple[str, str]]:
        """Every status key and alias → (status key, "online" | "refused")."""
        names: dict[str, tuple[str, str]] = {}
        for k, s in self.statuses.items():
            for name in (k, *s.aliases):
                names[name] = (k, "online")
        for k, r in self.index.refused_statuses.items():
            for name in (k, *r.aliases):
                names[name] = (k, "refused")
        return names


# ---------------------------------------------------------------------------- loading


def applications_dir() -> Path:
    return profiles_dir() / "applications"


def load_application_profiles() -> ApplicationProfiles:
    """Load and cross-check index, parts and statuses (cached per profiles folder)."""
    # Keyed by the override variable, not the resolved path: resolving costs more than the
    # lookup itself, and this is called for every key of every case.
    return _load_for(os.environ.get("PACKAGER_PROFILES_DIR"))


@cache
def _load_for(override: str | None) -> ApplicationProfiles:
    return _load_all(applications_dir().resolve())


@cache
def _load_all(folder: Path) -> ApplicationProfiles:
    index = load_index_file(folder / "index.toml")
    kinds = load_kinds()
    parts: dict[str, Part] = {}
    for path in sorted((folder / "parts").glob("*.toml")):
        part = load_part_file(path, index, kinds)
        if part.name in parts:
            raise ProfileError(str(path), "name", f"part {part.name!r} is also defined in {parts[part.name].path}")
        parts[part.name] = part
    statuses: dict[str, StatusProfile] = {}
    claimed: dict[str, str] = {}  # key or alias → status key, to catch clashes across files
    for k, r in index.refused_statuses.items():
        for name in (k, *r.aliases):
            claimed[name] = k
    for path in sorted((folder / "statuses").glob("*.toml")):
        for status in load_statuses_file(path, index, parts, kinds):
            for name in (status.key, *status.aliases):
                if name in claimed:
                    key = f"statuses.{status.key}" + ("" if name == status.key else ".aliases")
                    raise ProfileError(str(path), key, f"{name!r} already names status {claimed[name]!r}")
                claimed[name] = status.key
            statuses[status.key] = status
    # Listed by group (work, study, family, designated, other), then in file order.
    ordered = sorted(statuses.values(), key=lambda st: STATUS_GROUPS.index(st.group))
    return ApplicationProfiles(index=index, parts=parts, statuses={st.key: st for st in ordered})


def _header(top: Table, expected: str) -> None:
    kind = top.str("profile", required=True)
    if kind not in PROFILE_TYPES:
        raise top.error("profile", f"must be one of {', '.join(PROFILE_TYPES)}, not {kind!r}")
    if kind != expected:
        raise top.error("profile", f"is {kind!r}, but a {expected!r} profile belongs here")


def profile_type(path: Path) -> str:
    """'system', 'index', 'part' or 'statuses': what a profile file says it is."""
    data = read_toml(path)
    if "upload" in data:
        return "system"
    kind = data.get("profile")
    if kind is None:
        raise ProfileError(
            str(path), "profile", "is missing (say 'index', 'part' or 'statuses'; a system profile has [upload])"
        )
    if kind not in PROFILE_TYPES:
        raise ProfileError(str(path), "profile", f"must be one of {', '.join(PROFILE_TYPES)}, not {kind!r}")
    return str(kind)


def load_index_file(path: Path) -> ApplicationIndex:
    top = Table(read_toml(path), str(path))
    _header(top, "index")
    applications: dict[str, ApplicationType] = {}
    for key, t in top.tables("applications", required=True):
        online = t.bool("online", required=True)
        refused = t.str("refused")
        add_on_to = t.str_list("add_on_to")
        if online and refused:
            raise t.error("refused", "must not be given for an online application")
        if not online and not refused:
            raise t.error("refused", "is missing (say why it cannot be filed online)")
        applications[key] = ApplicationType(
            key=key,
            title_ja=t.str("title_ja", required=True),
            title_en=t.str("title_en", required=True),
            online=online,
            refused=refused,
            add_on_to=add_on_to,
            aliases=t.str_list("aliases"),
        )
        t.done()
    for key, a in applications.items():
        for i, target in enumerate(a.add_on_to):
            if target not in applications or not applications[target].online:
                raise ProfileError(
                    str(path), f"applications.{key}.add_on_to[{i}]", f"{target!r} is not an online application"
                )
    refused_statuses: dict[str, RefusedStatus] = {}
    for key, t in top.tables("refused_statuses", required=True):
        refused_statuses[key] = RefusedStatus(
            key=key,
            title_ja=t.str("title_ja", required=True),
            title_en=t.str("title_en", required=True),
            reason=t.str("reason", required=True),
            aliases=t.str_list("aliases"),
        )
        t.done()
    da = top.table("designated_activities", required=True)
    index = ApplicationIndex(
        path=path,
        source=top.str("source", required=True),
        checked=top.date("checked", required=True),
        unconfirmed=top.str_list("unconfirmed"),
        counter=top.str("counter", required=True),
        applications=applications,
        refused_statuses=refused_statuses,
        designated_prefix=da.str("prefix", required=True),
        designated_refused=da.str("refused_unlisted", required=True),
    )
    da.done()
    top.done()
    if not index.online_applications:
        raise ProfileError(str(path), "applications", "names no online application")
    return index


def _load_entries(
    parent: Table, key: str, index: ApplicationIndex, kinds: Mapping[str, DocumentKind]
) -> tuple[EntrySpec, ...]:
    online = index.online_applications
    specs: list[EntrySpec] = []
    for t in parent.table_list(key):
        kind_key = t.str("kind", required=True)
        if kind_key not in kinds:
            suggestion = _suggest(kind_key, kinds)
            raise t.error("kind", f"unknown document kind {kind_key!r}{suggestion} (kinds are in kinds.toml)")
        kind = kinds[kind_key]
        applications = t.str_list("applications") or online
        for i, a in enumerate(applications):
            if a not in online:
                raise t.error(f"applications[{i}]", f"{a!r} is not an online application ({', '.join(online)})")
        when = t.table("when")
        categories: tuple[int, ...] | None = None
        if when.has("employer_category"):
            raw = when._get("employer_category", (list,), "a list of employer categories", [], True)
            valid = all(isinstance(c, int) and not isinstance(c, bool) and c in EMPLOYER_CATEGORIES for c in raw)
            if not raw or not valid:
                raise when.error("employer_category", "must be a non-empty list of categories 1–4, e.g. [3, 4]")
            categories = tuple(sorted(set(raw)))
        when.done()
        condition = t.str("condition")
        if categories is not None and not condition:
            condition = f"employer category {_span(categories)}"
        months = t.int("issued_within_months", 0, minimum=1) if t.has("issued_within_months") else None
        specs.append(
            EntrySpec(
                where=f"{t.source}: {t.prefix}",
                kind=kind_key,
                required=t.bool("required", True),
                applications=applications,
                employer_categories=categories,
                condition=condition,
                name_ja=t.str("name_ja", kind.name_ja),
                name_en=t.str("name_en", kind.name_en),
                order=t.int("order", kind.order),
                mail_priority=t.int("mail_priority", kind.mail_priority),
                colour=t.bool("colour", kind.colour),
                issued_within_months=months,
                note=t.str("note"),
                unconfirmed=t.bool("unconfirmed", False),
            )
        )
        t.done()
        _check_no_duplicate(specs, t)
    return tuple(specs)


def _check_no_duplicate(specs: list[EntrySpec], t: Table) -> None:
    """Within one list a kind may repeat only for other applications or other categories."""
    new = specs[-1]
    for old in specs[:-1]:
        if old.kind != new.kind:
            continue
        shared_apps = set(old.applications) & set(new.applications)
        cats_old = set(old.employer_categories or EMPLOYER_CATEGORIES)
        cats_new = set(new.employer_categories or EMPLOYER_CATEGORIES)
        if shared_apps and cats_old & cats_new:
            raise t.error(
                "kind",
                f"{new.kind!r} is listed twice for {sorted(shared_apps)[0]!r} (also at {old.where.split(': ', 1)[1]}); "
                "restrict `applications` or `when` so that one line applies",
            )


def load_part_file(
    path: Path, index: ApplicationIndex | None = None, kinds: Mapping[str, DocumentKind] | None = None
) -> Part:
    index = index or load_application_profiles().index
    kinds = kinds or load_kinds()
    top = Table(read_toml(path), str(path))
    _header(top, "part")
    part = Part(
        name=top.str("name", required=True),
        title=top.str("title", required=True),
        path=path,
        source=top.str("source", required=True),
        checked=top.date("checked", required=True),
        unconfirmed=top.str_list("unconfirmed"),
        notes=top.str_list("notes"),
        entries=_load_entries(top, "entries", index, kinds),
    )
    top.done()
    return part


def load_statuses_file(
    path: Path,
    index: ApplicationIndex | None = None,
    parts: Mapping[str, Part] | None = None,
    kinds: Mapping[str, DocumentKind] | None = None,
) -> list[StatusProfile]:
    """The status profiles of one file; includes are resolved against the shipped parts."""
    if index is None or parts is None:
        shipped = load_application_profiles()
        index, parts = index or shipped.index, parts if parts is not None else shipped.parts
    kinds = kinds or load_kinds()
    top = Table(read_toml(path), str(path))
    _header(top, "statuses")
    source = top.str("source", required=True)
    checked = top.date("checked", required=True)
    file_unconfirmed = top.str_list("unconfirmed")
    file_notes = top.str_list("notes")
    file_include = top.str_list("include")
    result: list[StatusProfile] = []
    for key, t in top.tables("statuses", required=True):
        _check_key(t, key)
        if key == index.designated_prefix or key in index.refused_statuses or key in index.applications:
            raise ProfileError(str(path), f"statuses.{key}", "is a reserved key (a refused status or application)")
        includes = t.str_list("include") if t.has("include") else file_include
        for i, name in enumerate(includes):
            if name not in parts:
                where = f"statuses.{key}.include[{i}]" if t.has("include") else f"include[{i}]"
                raise ProfileError(str(path), where, f"no part named {name!r}{_suggest(name, parts)} in parts/")
        applications = t.str_list("applications") or index.online_applications
        for i, a in enumerate(applications):
            if a not in index.online_applications:
                raise t.error(f"applications[{i}]", f"{a!r} is not an online application")
        group = t.str("group", required=True)
        if group not in STATUS_GROUPS:
            raise t.error("group", f"must be one of {', '.join(STATUS_GROUPS)}, not {group!r}")
        status = StatusProfile(
            key=key,
            title_ja=t.str("title_ja", required=True),
            title_en=t.str("title_en", required=True),
            group=group,
            detailed=t.bool("detailed", False),
            aliases=t.str_list("aliases"),
            includes=includes,
            applications=applications,
            path=path,
            source=t.str("source", source),
            checked=t.date("checked") or checked,
            unconfirmed=file_unconfirmed + t.str_list("unconfirmed"),
            notes=t.str_list("notes") if t.has("notes") else file_notes,
            entries=_load_entries(t, "entries", index, kinds),
        )
        t.done()
        for alias in status.aliases:
            _check_key(t, alias, "aliases")
        result.append(status)
    top.done()
    return result


def _check_key(t: Table, key: str, field: str = "") -> None:
    """Keys are lower-case words joined by '-', as case.toml spells them."""
    words = key.split("-")
    if not key or not all(w and w.isascii() and w.replace("_", "").isalnum() and w == w.lower() for w in words):
        where = f"{t.prefix}.{field}" if field else t.prefix
        raise ProfileError(t.source, where, f"{key!r} must be lower-case words joined by '-'")


def _span(categories: Iterable[int]) -> str:
    cats = sorted(categories)
    if len(cats) > 1 and cats == list(range(cats[0], cats[-1] + 1)):
        return f"{cats[0]}–{cats[-1]}"
    return ", ".join(str(c) for c in cats)


def _suggest(word: str, known: Iterable[str]) -> str:
    match = difflib.get_close_matches(word, list(known), n=1, cutoff=0.6)
    return f" (did you mean {match[0]!r}?)" if match else ""


# ---------------------------------------------------------------------------- case keys


@dataclass(frozen=True)
class StatusRef:
    """A status key from case.toml, resolved."""

    key: str  # canonical key (or the key as given, for an unlisted designated activity)
    kind: str  # "online" | "refused" | "unlisted-designated"
    title: str  # "技術・人文知識・国際業務 (Engineer / …)" for messages


def resolve_application(key: str, field: str = "application") -> ApplicationType:
    """The application type named by case.toml (aliases allowed); unknown → ProfileError."""
    profiles = load_application_profiles()
    index, names = profiles.index, profiles.application_names
    norm = _normalise(key)
    if norm in names:
        return index.applications[names[norm]]
    known = ", ".join(index.applications)
    raise ProfileError(CASE_SOURCE, field, f"unknown application {key!r}{_suggest(norm, names)} (known: {known})")


def resolve_status(key: str, field: str = "status") -> StatusRef:
    """The status named by case.toml (aliases allowed); unknown → ProfileError with a suggestion."""
    profiles = load_application_profiles()
    index, names = profiles.index, profiles.status_names
    norm = _normalise(key)
    if norm in names:
        canonical, kind = names[norm]
        return StatusRef(canonical, kind, status_title(canonical))
    prefix = index.designated_prefix
    if norm == prefix:
        listed = [k for k in profiles.statuses if k.startswith(prefix + "-")]
        raise ProfileError(
            CASE_SOURCE, field, f"{key!r} must name the designated activity, e.g. one of: {', '.join(listed)}"
        )
    if norm.startswith(prefix + "-"):
        return StatusRef(norm, "unlisted-designated", f"特定活動 (Designated Activities: {norm[len(prefix) + 1:]})")
    raise ProfileError(CASE_SOURCE, field, f"unknown status of residence {key!r}{_suggest(norm, names)}")


def status_title(key: str) -> str:
    profiles = load_application_profiles()
    s: StatusProfile | RefusedStatus | None = profiles.statuses.get(key) or profiles.index.refused_statuses.get(key)
    return f"{s.title_ja} ({s.title_en})" if s else key


def _normalise(key: str) -> str:
    return key.strip().lower().replace("_", "-").replace(" ", "-")


def case_employer_category(case: CaseInfo) -> int | None:
    """case.toml's `employer_category`, checked against the categories the profiles know."""
    value = case.employer_category
    if value is not None and value not in EMPLOYER_CATEGORIES:
        raise ProfileError(CASE_SOURCE, "employer_category", f"must be 1, 2, 3 or 4, not {value!r}")
    return value


def case_with(case: CaseInfo) -> tuple[str, ...]:
    """`with = ["re-entry-permit", …]`: add-on application keys, canonical, in case order."""
    result: list[str] = []
    for i, item in enumerate(case.with_):
        app = resolve_application(item, f"with[{i}]")
        if not app.add_on_to:
            addable = [k for k, a in load_application_profiles().index.applications.items() if a.add_on_to]
            only = ", ".join(addable)
            raise ProfileError(CASE_SOURCE, f"with[{i}]", f"{item!r} is not filed alongside another (only: {only})")
        if app.key not in result:
            result.append(app.key)
    return tuple(result)


# ---------------------------------------------------------------------------- checklists


def load_checklist(case: CaseInfo) -> Checklist | None:
    """The checklist for the case's application and status; None when case.toml names no application.

    Call eligibility.check_eligibility first: a case that cannot be filed online has no
    checklist, and this raises NotEligibleOnline for it with a shorter message.
    """
    if not case.application.strip():
        return None
    app = resolve_application(case.application)
    if not app.online:
        raise NotEligibleOnline(f"no online checklist for {app.title_en}: {app.refused}")
    if not case.status.strip():
        hint = " (for a change, the DESIRED new status)" if app.key == "change" else ""
        raise ProfileError(CASE_SOURCE, "status", f"is missing: name the status of residence{hint}")
    status = resolve_status(case.status)
    if status.kind != "online":
        raise NotEligibleOnline(f"no online checklist for {status.title}")
    return checklist_for(app.key, status.key, case_employer_category(case), case_with(case))


def checklist_for(
    application: str,
    status: str,
    employer_category: int | None = None,
    with_: tuple[str, ...] = (),
    profiles: ApplicationProfiles | None = None,
) -> Checklist:
    """Resolve the checklist of one (application, status) (canonical keys).

    `profiles` defaults to the shipped ones; `profiles show PATH` passes them with an office's
    own status file merged in.
    """
    profiles = profiles or load_application_profiles()
    app = profiles.index.applications[application]
    profile = profiles.statuses[status]
    if application not in profile.applications:
        raise NotEligibleOnline(f"no online checklist for {app.title_en} with {profile.title_en}")
    layers: list[tuple[EntrySpec, ...]] = [profiles.parts[name].entries for name in profile.includes]
    layers.append(profile.entries)
    chosen: dict[str, list[EntrySpec]] = {}
    for layer in layers:
        here: dict[str, list[EntrySpec]] = {}
        for spec in layer:
            if spec.applies(application, employer_category):
                here.setdefault(spec.kind, []).append(spec)
        chosen.update(here)  # a later layer's line replaces the earlier lines of its kind
    specs = [spec for group in chosen.values() for spec in group]
    seq = {id(spec): i for i, spec in enumerate(specs)}
    specs.sort(key=lambda s: (s.order, seq[id(s)]))
    entries = tuple(_entry(spec, employer_category) for spec in specs)

    parts = [profiles.parts[name] for name in profile.includes]
    sources = list(dict.fromkeys([profile.source, *(p.source for p in parts)]))
    dates = [d for d in (profile.checked, *(p.checked for p in parts)) if d is not None]
    notes = [*profile.notes, *(n for p in parts for n in p.notes)]
    for key in with_:
        extra = profiles.index.applications[key]
        notes.append(f"Filed together: {extra.title_ja} ({extra.title_en}), entered with the main application.")
    unconfirmed = [*profile.unconfirmed, *(u for p in parts for u in p.unconfirmed)]
    return Checklist(
        application=application,
        status=status,
        title_ja=f"{app.title_ja} — {profile.title_ja}",
        title_en=f"{app.title_en} — {profile.title_en}",
        source=" | ".join(sources),
        checked=min(dates) if dates else None,
        notes=tuple(dict.fromkeys(notes)),
        entries=entries,
        unconfirmed=tuple(dict.fromkeys(unconfirmed)),
        detailed=profile.detailed,
        employer_category=employer_category,
        with_=with_,
    )


def _entry(spec: EntrySpec, employer_category: int | None) -> ChecklistEntry:
    required = spec.required
    condition = spec.condition
    if spec.employer_categories is not None and employer_category is None:
        # Without the case's category the line may or may not apply: list it, do not demand it.
        required = False
        condition = f"{condition} (case.toml gives no employer_category)"
    return ChecklistEntry(
        kind=spec.kind,
        name_ja=spec.name_ja,
        name_en=spec.name_en,
        required=required,
        condition=condition,
        order=spec.order,
        mail_priority=spec.mail_priority,
        colour=spec.colour,
        issued_within_months=spec.issued_within_months,
        note=spec.note,
        unconfirmed=spec.unconfirmed,
    )


def match_checklist(checklist: Checklist, files_by_kind: Mapping[str, list[str]]) -> ChecklistReport:
    """Match the files of a case (kind → paths) against the checklist."""
    results = tuple(EntryResult(e, tuple(files_by_kind.get(e.kind, ()))) for e in checklist.entries)
    listed = {e.kind for e in checklist.entries}
    unlisted = tuple(
        (kind, tuple(paths))
        for kind, paths in sorted(files_by_kind.items())
        if kind not in listed and kind != "other" and paths
    )
    return ChecklistReport(
        checklist=checklist,
        entries=results,
        missing_required=tuple(r.entry for r in results if r.entry.required and not r.present),
        unlisted=unlisted,
        unclassified=tuple(files_by_kind.get("other", ())) if "other" not in listed else (),
    )

"""A build's result as typed records, and manifest.json to and from them.

The build writes its manifest through `manifest_json(BuildRecord)`; every reader (the CLI's
summary, the watcher, the desk, `stamp`) gets the same records back through `parse_manifest`.
A leaf: standard library and packager.model only. Field names carry units like everywhere
else (`bytes_`, `dpi`); the JSON keys are the manifest's own (`bytes`, `pages` …).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from packager.model import Applicant, CaseInfo


class ManifestInvalid(ValueError):
    """manifest.json does not hold what a build writes (the text says which key)."""


@dataclass(frozen=True)
class PageRecord:
    """One page of an output file."""

    source: str  # input path relative to CASE_DIR
    source_page: int  # 0-based page index in that input
    encoding: str  # Encoding.label, or how a mailed/photo page was made
    dpi: float  # effective dpi of the written page (0.0 for the ID photo)
    bytes_: int


@dataclass(frozen=True)
class OutputRecord:
    """One file in OUT/upload or OUT/mail, as measured on disk when written."""

    path: str  # relative to OUT, POSIX separators
    destination: str  # "upload" | "mail"
    document: str  # document key; "declaration", "photo", "cover-sheet" for the made ones
    title: str
    bytes_: int
    sha256: str
    pages: tuple[PageRecord, ...] = ()
    name_ja: str | None = None  # the document's names, when the file holds one document
    name_en: str | None = None
    pristine: str | None = None  # mailed documents: the untouched copy `stamp` starts from
    reason: str | None = None  # mailed documents: why mailed


@dataclass(frozen=True)
class InputRecord:
    """An input file, accepted (with its digest and size) or rejected (with the reason)."""

    path: str
    status: str  # "accepted" | "rejected"
    reason: str  # why rejected; a note (usually "") when accepted
    sha256: str | None = None
    bytes_: int | None = None
    format: str | None = None
    page_count: int | None = None
    document: str | None = None
    kind: str | None = None  # document kind key
    kind_from: str | None = None  # how the kind was decided: case.toml | name | content | default
    kind_evidence: str | None = None  # content: what was read on the page ('title "納税証明書"' …)


@dataclass(frozen=True)
class MailedRecord:
    document: str
    title: str
    file: str  # relative to OUT
    reason: str


@dataclass(frozen=True)
class DroppedPageRecord:
    source: str
    source_page: int  # 0-based
    reason: str


@dataclass(frozen=True)
class PlanRecord:
    level: int  # the uniform ladder level reached (0 = best)
    budget_bytes: int
    reserved_bytes: int
    mode: str  # "files" | "single-pdf"


@dataclass(frozen=True)
class CaseRecord:
    """What case.toml said, as far as the forms print it."""

    application: str = ""
    status: str = ""
    current_status: str = ""
    applicant: Applicant = field(default_factory=Applicant)
    bureau: str = ""
    sender: str = ""

    @classmethod
    def of(cls, case: CaseInfo) -> CaseRecord:
        return cls(case.application, case.status, case.current_status, case.applicant, case.bureau, case.sender)

    def as_case_info(self) -> CaseInfo:
        return CaseInfo(
            application=self.application,
            status=self.status,
            current_status=self.current_status,
            applicant=self.applicant,
            bureau=self.bureau,
            sender=self.sender,
        )


@dataclass(frozen=True)
class ChecklistLineRecord:
    kind: str
    name_ja: str
    name_en: str
    required: bool
    condition: str
    issued_within_months: int | None
    unconfirmed: bool
    files: tuple[str, ...]


@dataclass(frozen=True)
class ChecklistRecord:
    """The application's checklist matched against the case (see packager.text for `text`)."""

    application: str
    status: str
    title_ja: str
    title_en: str
    employer_category: int | None
    with_: tuple[str, ...]
    source: str
    checked: dt.date | None
    detailed: bool
    ready: bool
    entries: tuple[ChecklistLineRecord, ...]
    missing_required: tuple[str, ...]
    unlisted: tuple[tuple[str, tuple[str, ...]], ...]  # (kind, files) of kinds not on the checklist
    unclassified: tuple[str, ...]
    notes: tuple[str, ...]
    unconfirmed: tuple[str, ...]
    text: str  # the table as `packager check` prints it


@dataclass(frozen=True)
class StampRecord:
    receipt: str
    filing_date: dt.date | None
    pages: int  # mailed pages stamped (cover sheet not counted)
    shrunk_pages: int
    files: tuple[str, ...]


@dataclass(frozen=True)
class BuildRecord:
    """manifest.json as records: what one build did."""

    packager_version: str
    profile: str
    built_on: dt.date
    limit_bytes: int
    upload_bytes: int  # measured on disk
    fits: bool
    case: CaseRecord
    inputs: tuple[InputRecord, ...]
    ignored: tuple[str, ...]
    outputs: tuple[OutputRecord, ...]
    mailed: tuple[MailedRecord, ...]
    dropped_pages: tuple[DroppedPageRecord, ...]
    plan: PlanRecord | None
    checklist: ChecklistRecord | None
    stamp: StampRecord | None = None
    warnings: tuple[str, ...] = ()  # what a person must know or still do (e.g. kinds not read: no OCR)

    @property
    def mailed_documents(self) -> tuple[OutputRecord, ...]:
        """The documents in OUT/mail (the cover sheet is not one: it is made for them)."""
        return tuple(o for o in self.outputs if o.destination == "mail" and o.document != "cover-sheet")

    @property
    def rejected(self) -> tuple[InputRecord, ...]:
        return tuple(i for i in self.inputs if i.status == "rejected")

    @property
    def applicant(self) -> str:
        return self.case.applicant.name


# ---------------------------------------------------------------------------- records → JSON


def _page_json(p: PageRecord) -> dict[str, Any]:
    return {"source": p.source, "source_page": p.source_page, "encoding": p.encoding, "dpi": p.dpi, "bytes": p.bytes_}


def output_json(o: OutputRecord) -> dict[str, Any]:
    d: dict[str, Any] = {
        "path": o.path,
        "destination": o.destination,
        "document": o.document,
        "title": o.title,
        "bytes": o.bytes_,
        "sha256": o.sha256,
    }
    for key in ("name_ja", "name_en", "pristine", "reason"):
        value = getattr(o, key)
        if value is not None:
            d[key] = value
    d["pages"] = [_page_json(p) for p in o.pages]
    return d


def _input_json(i: InputRecord) -> dict[str, Any]:
    if i.status == "rejected":
        return {"path": i.path, "status": "rejected", "reason": i.reason}
    return {
        "path": i.path,
        "sha256": i.sha256,
        "bytes": i.bytes_,
        "format": i.format,
        "pages": i.page_count,
        "document": i.document,
        "kind": i.kind,
        "kind_from": i.kind_from,
        "kind_evidence": i.kind_evidence,
        "status": i.status,
        "reason": i.reason,
    }


def checklist_json(c: ChecklistRecord) -> dict[str, Any]:
    return {
        "application": c.application,
        "status": c.status,
        "title_ja": c.title_ja,
        "title_en": c.title_en,
        "employer_category": c.employer_category,
        "with": list(c.with_),
        "source": c.source,
        "checked": c.checked.isoformat() if c.checked else None,
        "detailed": c.detailed,
        "ready": c.ready,
        "entries": [
            {
                "kind": e.kind,
                "name_ja": e.name_ja,
                "name_en": e.name_en,
                "required": e.required,
                "condition": e.condition,
                "issued_within_months": e.issued_within_months,
                "unconfirmed": e.unconfirmed,
                "files": list(e.files),
            }
            for e in c.entries
        ],
        "missing_required": list(c.missing_required),
        "unlisted": {kind: list(files) for kind, files in c.unlisted},
        "unclassified": list(c.unclassified),
        "notes": list(c.notes),
        "unconfirmed": list(c.unconfirmed),
        "text": c.text,
    }


def stamp_json(s: StampRecord) -> dict[str, Any]:
    return {
        "receipt": s.receipt,
        "filing_date": s.filing_date.isoformat() if s.filing_date else None,
        "stamped_at_pages": s.pages,
        "shrunk_pages": s.shrunk_pages,
        "files": list(s.files),
    }


def case_json(c: CaseRecord) -> dict[str, Any]:
    a = c.applicant
    return {
        "application": c.application,
        "status": c.status,
        "current_status": c.current_status,
        "applicant": {
            "name": a.name,
            "nationality": a.nationality,
            "birth_date": a.birth_date,
            "residence_card_number": a.residence_card_number,
        },
        "bureau": c.bureau,
        "sender": c.sender,
    }


def manifest_json(r: BuildRecord) -> dict[str, Any]:
    """The manifest as JSON data, keys in the order every manifest has had them."""
    return {
        "packager_version": r.packager_version,
        "profile": r.profile,
        "built_on": r.built_on.isoformat(),
        "limit_bytes": r.limit_bytes,
        "upload_bytes": r.upload_bytes,
        "fits": r.fits,
        "case": case_json(r.case),
        "inputs": [_input_json(i) for i in r.inputs],
        "ignored": list(r.ignored),
        "outputs": [output_json(o) for o in r.outputs],
        "mailed": [{"document": m.document, "title": m.title, "file": m.file, "reason": m.reason} for m in r.mailed],
        "dropped_pages": [{"source": d.source, "source_page": d.source_page, "reason": d.reason}
                          for d in r.dropped_pages],
        "plan": None if r.plan is None else {
            "level": r.plan.level,
            "budget_bytes": r.plan.budget_bytes,
            "reserved_bytes": r.plan.reserved_bytes,
            "mode": r.plan.mode,
        },
        "checklist": None if r.checklist is None else checklist_json(r.checklist),
        "stamp": None if r.stamp is None else stamp_json(r.stamp),
        "warnings": list(r.warnings),
    }


# ---------------------------------------------------------------------------- JSON → records


class _Reader:
    """Typed access to one JSON object; a wrong type names its key (ManifestInvalid)."""

    def __init__(self, data: Any, where: str) -> None:
        if not isinstance(data, dict):
            raise ManifestInvalid(f"{where or 'the manifest'} is not an object")
        self.data = data
        self.where = where

    def _get(self, key: str, types: tuple[type, ...], default: Any) -> Any:
        value = self.data.get(key, default)
        if value is None and default is None:
            return None
        if isinstance(value, bool) and bool not in types:
            raise ManifestInvalid(f"{self.where}{key}: expected {types[0].__name__}, found {value!r}")
        if not isinstance(value, types):
            raise ManifestInvalid(f"{self.where}{key}: expected {types[0].__name__}, found {type(value).__name__}")
        return value

    def str(self, key: str, default: str | None = "") -> Any:
        return self._get(key, (str,), default)

    def int(self, key: str, default: int | None = 0) -> Any:
        return self._get(key, (int,), default)

    def float(self, key: str, default: float = 0.0) -> float:
        return float(self._get(key, (float, int), default))

    def bool(self, key: str, default: bool = False) -> bool:
        return bool(self._get(key, (bool,), default))

    def date(self, key: str) -> dt.date | None:
        text = self.str(key, None)
        if not text:
            return None
        try:
            return dt.date.fromisoformat(text[:10])
        except ValueError as e:
            raise ManifestInvalid(f"{self.where}{key}: not a date: {text!r}") from e

    def strings(self, key: str) -> tuple[str, ...]:
        items = self._get(key, (list,), [])
        if not all(isinstance(s, str) for s in items):
            raise ManifestInvalid(f"{self.where}{key}: expected a list of text")
        return tuple(items)

    def objects(self, key: str) -> list[_Reader]:
        items = self._get(key, (list,), [])
        return [_Reader(item, f"{self.where}{key}[{n}].") for n, item in enumerate(items)]

    def object(self, key: str) -> _Reader | None:
        value = self.data.get(key)
        return None if value is None else _Reader(value, f"{self.where}{key}.")


def _page(r: _Reader) -> PageRecord:
    return PageRecord(r.str("source"), r.int("source_page"), r.str("encoding"), r.float("dpi"), r.int("bytes"))


def parse_output(r: _Reader) -> OutputRecord:
    return OutputRecord(
        path=r.str("path"),
        destination=r.str("destination"),
        document=r.str("document"),
        title=r.str("title"),
        bytes_=r.int("bytes"),
        sha256=r.str("sha256"),
        pages=tuple(_page(p) for p in r.objects("pages")),
        name_ja=r.str("name_ja", None),
        name_en=r.str("name_en", None),
        pristine=r.str("pristine", None),
        reason=r.str("reason", None),
    )


def _input(r: _Reader) -> InputRecord:
    if r.str("status", "accepted") == "rejected":
        return InputRecord(r.str("path"), "rejected", r.str("reason"))
    return InputRecord(
        path=r.str("path"),
        status="accepted",
        reason=r.str("reason"),
        sha256=r.str("sha256", None),
        bytes_=r.int("bytes", None),
        format=r.str("format", None),
        page_count=r.int("pages", None),
        document=r.str("document", None),
        kind=r.str("kind", None),
        kind_from=r.str("kind_from", None),
        kind_evidence=r.str("kind_evidence", None),
    )


def case_from_json(data: Any) -> CaseRecord:
    """The manifest's "case" object as a record (an empty one when it is not an object)."""
    return parse_case(_Reader(data, "case.") if isinstance(data, dict) else None)


def parse_case(r: _Reader | None) -> CaseRecord:
    if r is None:
        return CaseRecord()
    a = r.object("applicant") or _Reader({}, f"{r.where}applicant.")
    return CaseRecord(
        application=r.str("application") or "",
        status=r.str("status") or "",
        current_status=r.str("current_status") or "",
        applicant=Applicant(
            name=a.str("name") or "",
            nationality=a.str("nationality") or "",
            birth_date=a.str("birth_date") or "",
            residence_card_number=a.str("residence_card_number") or "",
        ),
        bureau=r.str("bureau") or "",
        sender=r.str("sender") or "",
    )


def _checklist(r: _Reader) -> ChecklistRecord:
    unlisted = r.object("unlisted")
    return ChecklistRecord(
        application=r.str("application"),
        status=r.str("status"),
        title_ja=r.str("title_ja"),
        title_en=r.str("title_en"),
        employer_category=r.int("employer_category", None),
        with_=r.strings("with"),
        source=r.str("source"),
        checked=r.date("checked"),
        detailed=r.bool("detailed"),
        ready=r.bool("ready"),
        entries=tuple(
            ChecklistLineRecord(
                kind=e.str("kind"),
                name_ja=e.str("name_ja"),
                name_en=e.str("name_en"),
                required=e.bool("required"),
                condition=e.str("condition"),
                issued_within_months=e.int("issued_within_months", None),
                unconfirmed=e.bool("unconfirmed"),
                files=e.strings("files"),
            )
            for e in r.objects("entries")
        ),
        missing_required=r.strings("missing_required"),
        unlisted=tuple((k, unlisted.strings(k)) for k in unlisted.data) if unlisted else (),
        unclassified=r.strings("unclassified"),
        notes=r.strings("notes"),
        unconfirmed=r.strings("unconfirmed"),
        text=r.str("text"),
    )


def _stamp(r: _Reader) -> StampRecord:
    return StampRecord(
        receipt=r.str("receipt"),
        filing_date=r.date("filing_date"),
        pages=r.int("stamped_at_pages"),
        shrunk_pages=r.int("shrunk_pages"),
        files=r.strings("files"),
    )


def parse_manifest(data: Any) -> BuildRecord:
    """manifest.json's data as records; ManifestInvalid names the first key that is wrong."""
    r = _Reader(data, "")
    plan = r.object("plan")
    checklist = r.object("checklist")
    stamp = r.object("stamp")
    return BuildRecord(
        packager_version=r.str("packager_version"),
        profile=r.str("profile"),
        built_on=r.date("built_on") or dt.date.min,
        limit_bytes=r.int("limit_bytes"),
        upload_bytes=r.int("upload_bytes"),
        fits=r.bool("fits", True),
        case=parse_case(r.object("case")),
        inputs=tuple(_input(i) for i in r.objects("inputs")),
        ignored=r.strings("ignored"),
        outputs=tuple(parse_output(o) for o in r.objects("outputs")),
        mailed=tuple(
            MailedRecord(m.str("document"), m.str("title"), m.str("file"), m.str("reason")) for m in r.objects("mailed")
        ),
        dropped_pages=tuple(
            DroppedPageRecord(d.str("source"), d.int("source_page"), d.str("reason"))
            for d in r.objects("dropped_pages")
        ),
        plan=None if plan is None else PlanRecord(
            plan.int("level"), plan.int("budget_bytes"), plan.int("reserved_bytes"), plan.str("mode")
        ),
        checklist=None if checklist is None else _checklist(checklist),
        stamp=None if stamp is None else _stamp(stamp),
        warnings=r.strings("warnings"),
    )

"""What the templates show, built from the read model's records (no state derived here).

Plain dictionaries for Jinja, labels in Japanese and English as the forms have them.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import quote

from jinja2 import Environment

from packager import outbox
from packager.desk import thumbs
from packager.desk.config import DeskConfig
from packager.desk.newcase import CaseFields, NewCaseRefused

CaseState = outbox.CaseState

STATE_LABELS: dict[str, tuple[str, str]] = {
    CaseState.IN_PROGRESS: ("処理中", "In progress"),
    CaseState.READY: ("アップロード可", "Ready to upload"),
    CaseState.NEEDS_MAILING: ("郵送あり・受付番号待ち", "Needs mailing — waiting for the receipt number"),
    CaseState.STAMPED: ("受付番号押印済", "Stamped"),
    CaseState.FAILED: ("失敗", "Failed"),
}


def mb(value: int | None) -> str:
    """Decimal megabytes, as the ISA states its limit (25 MB = 25,000,000 bytes)."""
    if value is None:
        return "–"
    if value < 1_000_000:
        return f"{value / 1000:.0f} KB"
    return f"{value / 1_000_000:.1f} MB"


def local_time(value: dt.datetime) -> str:
    return value.astimezone().strftime("%Y-%m-%d %H:%M")


def register_filters(env: Environment) -> None:
    env.filters["mb"] = mb
    env.filters["local_time"] = local_time
    env.filters["thousands"] = lambda v: "–" if v is None else f"{v:,}"


@cache
def _titles() -> tuple[dict[str, tuple[str, str]], dict[str, tuple[str, str]]]:
    """Application and status keys → (Japanese, English) titles from the profiles."""
    try:
        from packager.checklist import load_application_profiles

        profiles = load_application_profiles()
    except Exception:
        return {}, {}
    apps = {k: (a.title_ja, a.title_en) for k, a in profiles.index.applications.items() if a.online}
    statuses = {k: (s.title_ja, s.title_en) for k, s in profiles.statuses.items()}
    return apps, statuses


def application_title(key: str | None) -> str:
    if not key:
        return ""
    ja, en = _titles()[0].get(key, ("", ""))
    return f"{ja} {en}".strip() or key


def status_title(key: str | None) -> str:
    if not key:
        return ""
    ja, en = _titles()[1].get(key, ("", ""))
    return f"{ja} {en}".strip() or key


def _percent(used: int | None, limit: int | None) -> int | None:
    if used is None or not limit:
        return None
    return round(100 * used / limit)


def case_url(key: str, suffix: str = "") -> str:
    """The case's address: its read-model key, percent-encoded (a key is looked up, never a path)."""
    return f"/case/{quote(key, safe='/')}" + (f"/-/{suffix}" if suffix else "")


def case_row(entry: outbox.CaseEntry) -> dict[str, Any]:
    ja, en = STATE_LABELS.get(entry.state, (str(entry.state), str(entry.state)))
    return {
        "key": entry.key,
        "url": case_url(entry.key),
        "name": entry.name,
        "state": str(entry.state),
        "state_ja": ja,
        "state_en": en,
        "reason": entry.reason,
        "applicant": entry.applicant or "",
        "application": application_title(entry.application),
        "status": status_title(entry.status),
        "upload_bytes": entry.upload_bytes,
        "limit_bytes": entry.limit_bytes,
        "percent": _percent(entry.upload_bytes, entry.limit_bytes),
        "receipt": entry.receipt,
        "receipt_error": entry.receipt_error,
        "stage": entry.stage if entry.state == CaseState.IN_PROGRESS else None,
        "updated": local_time(entry.updated),
    }


def _by_name(outputs: list[outbox.OutputRecord]) -> list[outbox.OutputRecord]:
    # Output names start with the ISA form's order (00-declaration, 01-passport …; photo.jpg last).
    return sorted(outputs, key=lambda o: o.path.rsplit("/", 1)[-1])


def upload_in_form_order(record: outbox.BuildRecord) -> list[outbox.OutputRecord]:
    return _by_name([o for o in record.outputs if o.destination == "upload"])


def mail_in_print_order(record: outbox.BuildRecord) -> list[outbox.OutputRecord]:
    """The print kit: the cover sheet (00-cover-sheet), then the mailed documents in their order."""
    return _by_name([o for o in record.outputs if o.destination == "mail"])


def _documents(record: outbox.BuildRecord, base: str, case_dir: Path) -> list[dict[str, Any]]:
    docs = []
    index_of = {id(o): n for n, o in enumerate(record.outputs)}
    for o in upload_in_form_order(record):
        index = index_of[id(o)]
        pages = [
            {
                "number": n + 1,
                "thumb": f"{base}/-/thumb/{index}/{n}.jpg",
                "source": p.source,
                "source_page": p.source_page + 1,
                "encoding": p.encoding,
                "dpi": round(p.dpi) if p.dpi else None,
                "bytes": p.bytes_,
            }
            for n, p in enumerate(o.pages)
        ]
        if not pages:  # the photo, the declaration: files packager made, not pages of a scan
            photo = o.path.lower().endswith((".jpg", ".jpeg"))
            count = 1 if photo else thumbs.page_count(case_dir, o.path)
            pages = [{"number": n + 1, "thumb": f"{base}/-/thumb/{index}/{n}.jpg", "source": "", "source_page": None,
                      "encoding": "jpeg-photo" if photo else "form", "dpi": None,
                      "bytes": o.bytes_ if count == 1 else None} for n in range(count)]
        docs.append({"title": o.title or o.document, "document": o.document, "path": o.path,
                     "url": f"{base}/-/file/{o.path}", "bytes": o.bytes_, "pages": pages})
    return docs


def _mailed(record: outbox.BuildRecord, base: str) -> list[dict[str, Any]]:
    reasons = {m.document: m.reason for m in record.mailed}
    return [
        {"title": o.title or o.document, "path": o.path, "url": f"{base}/-/file/{o.path}", "bytes": o.bytes_,
         "pages": len(o.pages) or None, "reason": reasons.get(o.document, "")}
        for o in mail_in_print_order(record)
        if o.document != "cover-sheet"
    ]


def _forms(record: outbox.BuildRecord, base: str) -> list[dict[str, Any]]:
    forms = _by_name([o for o in record.outputs if o.document in ("cover-sheet", "declaration")])
    return [{"title": o.title or o.document, "url": f"{base}/-/file/{o.path}", "path": o.path} for o in forms]


def _checklist(record: outbox.BuildRecord) -> dict[str, Any] | None:
    c = record.checklist
    if c is None:
        return None
    entries = [
        {"present": bool(e.files), "name_ja": e.name_ja, "name_en": e.name_en, "required": e.required,
         "condition": e.condition or "", "files": list(e.files), "unconfirmed": e.unconfirmed,
         "within": e.issued_within_months}
        for e in c.entries
    ]
    return {"title": f"{c.title_ja} / {c.title_en}", "ready": c.ready, "entries": entries,
            "missing": [e for e in entries if e["required"] and not e["present"]],
            "notes": list(c.notes), "unconfirmed": list(c.unconfirmed)}


# The receipt numbers the ISA issues look like 福オンＥＮ25001878 (docs/online-system.md): an office
# character or two, オン (online), two letters, eight digits. It is free text and printed as typed;
# anything else is shown as a warning to compare with the filing confirmation, never refused.
_USUAL_RECEIPT = re.compile(r"^[\u3400-\u9fff]{1,3}オン[A-Z]{2}\d{8}$")


def notices(record: outbox.BuildRecord) -> list[str]:
    """What a person must act on before mailing, read off the record (the build's own warnings come first)."""
    found = []
    # Builds since 2026-12-01 say this themselves (readiness.still_to_do); older manifests do not.
    said = any("placeholder" in w for w in record.warnings)
    if record.mailed_documents and not record.case.bureau.strip() and not said:
        found.append(
            f"The cover sheet is addressed to the placeholder {_placeholder_addressee()}: set bureau in case.toml "
            "and rebuild, or write the bureau on the printed sheet. 送付状の宛先が未記入です。"
        )
    if record.stamp is not None:
        if record.stamp.filing_date is None:
            found.append("Stamped without a filing date: the cover sheet leaves it blank. Stamp again with the "
                         "date to print it. 申請日が未記入です。")
        if not _USUAL_RECEIPT.match(unicodedata.normalize("NFKC", record.stamp.receipt)):
            found.append(f"The receipt number {record.stamp.receipt} does not look like the usual form "
                         "(e.g. 福オンＥＮ25001878): compare it with the filing confirmation. "
                         "申請受付番号を確認してください。")
    return found


def _receipt_error(entry: outbox.CaseEntry) -> list[str]:
    if not entry.receipt_error:
        return []
    return [f"The watcher could not stamp with receipt.txt: {entry.receipt_error}"]


@cache
def _placeholder_addressee() -> str:
    from packager.forms.texts import load_cover

    return load_cover().addressee_default.replace("　御中", "")


def case_view(entry: outbox.CaseEntry, record: outbox.BuildRecord | None, base: str) -> dict[str, Any]:
    view: dict[str, Any] = {"case": case_row(entry), "base": base, "record": record,
                            "case_updated": entry.updated.isoformat()}
    if record is None:
        return view
    view.update(
        built_on=record.built_on,
        limit_bytes=record.limit_bytes,
        upload_bytes=record.upload_bytes,
        percent=_percent(record.upload_bytes, record.limit_bytes),
        fits=record.fits,
        application=application_title(record.case.application),
        status=status_title(record.case.status),
        applicant=record.case.applicant.name,
        documents=_documents(record, base, entry.path),
        mailed=_mailed(record, base),
        forms=_forms(record, base),
        checklist=_checklist(record),
        rejected=[i for i in record.inputs if i.status == "rejected"],
        dropped=[
            {"source": d.source, "page": d.source_page + 1, "reason": d.reason,
             "thumb": f"{base}/-/dropped/{n}.jpg"}
            for n, d in enumerate(record.dropped_pages)
        ],
        warnings=[*record.warnings, *notices(record), *_receipt_error(entry)],
        stamp=record.stamp,
        print_kit=f"{base}/-/print-kit.pdf" if any(o.destination == "mail" for o in record.outputs) else None,
        zip_url=f"{base}/-/upload.zip",
    )
    return view


# ---------------------------------------------------------------------------- new case form

FIELDS = ("case", "application", "status", "current_status", "applicant_name", "nationality", "birth_date",
          "residence_card_number", "bureau", "sender", "date")


def new_case_context(cfg: DeskConfig, form: Any = None) -> dict[str, Any]:
    apps, statuses = _titles()
    values = {f: str(form.get(f, "")) if form is not None else "" for f in FIELDS}
    return {
        "applications": sorted(apps.items()),
        "statuses": list(statuses.items()),
        "values": values,
        "max_upload": mb(cfg.max_upload_bytes),
        "max_files": cfg.max_upload_files,
        "error": "",
    }


def _date(form: Any, name: str, label: str) -> dt.date | None:
    text = str(form.get(name, "")).strip()
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError as e:
        raise NewCaseRefused(f"{label}: {text!r} is not a date (YYYY-MM-DD)") from e


def case_fields(form: Any) -> tuple[CaseFields, str]:
    """The form's case fields (CaseFields) and the requested case name."""

    def text(name: str) -> str:
        return " ".join(str(form.get(name, "")).split())  # one line: no newlines into case.toml

    fields = CaseFields(
        application=text("application"),
        status=text("status"),
        current_status=text("current_status"),
        applicant_name=text("applicant_name"),
        nationality=text("nationality"),
        birth_date=_date(form, "birth_date", "birth date / 生年月日"),
        residence_card_number=text("residence_card_number"),
        bureau=text("bureau"),
        sender=text("sender"),
        date=_date(form, "date", "declaration date / 申告日"),
    )
    return fields, text("case")


def too_large(declared: int, limit: int) -> str:
    return (f"the upload is {mb(declared)}, more than the {mb(limit)} one case may send: "
            "leave out what is not part of the application, or copy the folder into INBOX directly")

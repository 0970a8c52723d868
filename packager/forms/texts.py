"""Every text printed on the forms, loaded from profiles/forms/*.toml.

The 2026 forms are unpublished, so no wording lives in code: an office replaces a TOML
file and the forms change. Each file is validated strictly through `profiles.Table`
(missing key, wrong type, unknown key → one-line ProfileError naming file and key).
"""

from __future__ import annotations

import datetime as dt
import string
from dataclasses import dataclass, fields
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

from packager.profiles import Table, profiles_dir, read_toml

T = TypeVar("T")

_MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip


@dataclass(frozen=True)
class Name:
    """A Japanese name and its English counterpart (application type, status)."""

    ja: str
    en: str


@dataclass(frozen=True)
class Labels:
    applicant_ja: str
    applicant_en: str
    name_ja: str
    name_en: str
    nationality_ja: str
    nationality_en: str
    birth_date_ja: str
    birth_date_en: str
    residence_card_ja: str
    residence_card_en: str
    application_heading_ja: str
    application_heading_en: str
    application_ja: str
    application_en: str
    status_ja: str
    status_en: str
    current_status_ja: str
    current_status_en: str
    number_ja: str
    number_en: str
    document_ja: str
    document_en: str
    file_ja: str
    file_en: str
    pages_ja: str
    pages_en: str
    total_ja: str
    total_en: str
    none_ja: str
    none_en: str
    page_of: str


@dataclass(frozen=True)
class CommonTexts:
    labels: Labels
    date_format_ja: str
    date_format_en: str
    date_blank_ja: str
    applications: dict[str, Name]
    statuses: dict[str, Name]

    def application_name(self, key: str) -> Name:
        """Human name of an application key; the key itself when the profile lacks it."""
        return self.applications.get(key) or Name(key, key)

    def status_name(self, key: str) -> Name:
        return self.statuses.get(key) or Name(key, key)

    def date_ja(self, day: dt.date) -> str:
        return _format_date(self.date_format_ja, day)

    def date_en(self, day: dt.date) -> str:
        return _format_date(self.date_format_en, day)


@dataclass(frozen=True)
class DeclarationTexts:
    form_label_ja: str
    form_label_en: str
    title_ja: str
    title_en: str
    addressee_ja: str
    addressee_en: str
    intro_ja: str
    intro_en: str
    declaration_heading_ja: str
    declaration_heading_en: str
    box_mail_ja: str
    box_mail_en: str
    box_reattach_ja: str
    box_reattach_en: str
    uploaded_heading_ja: str
    uploaded_heading_en: str
    mailed_heading_ja: str
    mailed_heading_en: str
    statement_ja: str
    statement_en: str
    date_label_ja: str
    date_label_en: str
    signature_label_ja: str
    signature_label_en: str
    signature_note_ja: str
    signature_note_en: str


@dataclass(frozen=True)
class CoverTexts:
    title_ja: str
    title_en: str
    addressee_default: str
    honorific: str
    sender_label_ja: str
    sender_label_en: str
    greeting_ja: str
    greeting_en: str
    ki: str
    ijou: str
    receipt_label_ja: str
    receipt_label_en: str
    receipt_blank_note_ja: str
    receipt_blank_note_en: str
    filing_date_label_ja: str
    filing_date_label_en: str
    enclosed_heading_ja: str
    enclosed_heading_en: str


@dataclass(frozen=True)
class StampTexts:
    template: str
    font_size_pt: float
    min_font_size_pt: float
    band_mm: float
    edge_mm: float
    side_mm: float
    check_dpi: int
    ink_level: int
    max_ink_fraction: float


_DATE_FIELDS = {"year", "month", "day", "month_name"}
_STAMP_FIELDS = {"receipt", "name", "page", "pages"}


def _format_date(fmt: str, day: dt.date) -> str:
    return fmt.format(year=day.year, month=day.month, day=day.day, month_name=_MONTHS[day.month - 1])


def _placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}


def _check_template(t: Table, key: str, value: str, allowed: set[str]) -> None:
    try:
        unknown = _placeholders(value) - allowed
    except ValueError as e:
        raise t.error(key, f"is not a valid template ({e})") from e
    if unknown:
        raise t.error(key, f"uses unknown placeholder {{{sorted(unknown)[0]}}} (known: {', '.join(sorted(allowed))})")


def _read_fields(cls: type[T], t: Table) -> T:
    """Fill dataclass `cls` from table `t`, one required key per field, typed by annotation."""
    values: dict[str, Any] = {}
    for f in fields(cls):  # type: ignore[arg-type]
        if f.type == "float":
            values[f.name] = t.float(f.name, required=True)
        elif f.type == "int":
            values[f.name] = t.int(f.name, required=True, minimum=1)
        else:
            text = t.str(f.name, required=True)
            if not text.strip():
                raise t.error(f.name, "must not be empty")
            values[f.name] = text
    return cls(**values)


def _read_header(top: Table) -> None:
    top.str("source", required=True)
    top.date("checked")
    top.str_list("unconfirmed")


def _read_names(top: Table, key: str) -> dict[str, Name]:
    names: dict[str, Name] = {}
    for name_key, t in top.tables(key, required=True):
        names[name_key] = Name(ja=t.str("ja", required=True), en=t.str("en", required=True))
        t.done()
    return names


def _forms_dir(folder: Path | None) -> Path:
    return folder if folder is not None else profiles_dir() / "forms"


@cache
def load_common(folder: Path | None = None) -> CommonTexts:
    path = _forms_dir(folder) / "common.toml"
    top = Table(read_toml(path), str(path))
    _read_header(top)
    labels_t = top.table("labels", required=True)
    labels = _read_fields(Labels, labels_t)
    _check_template(labels_t, "page_of", labels.page_of, {"page", "pages"})
    labels_t.done()
    dates = top.table("dates", required=True)
    fmt_ja = dates.str("format_ja", required=True)
    fmt_en = dates.str("format_en", required=True)
    for key, value in (("format_ja", fmt_ja), ("format_en", fmt_en)):
        _check_template(dates, key, value, _DATE_FIELDS)
    blank = dates.str("blank_ja", required=True)
    dates.done()
    common = CommonTexts(
        labels=labels,
        date_format_ja=fmt_ja,
        date_format_en=fmt_en,
        date_blank_ja=blank,
        applications=_read_names(top, "applications"),
        statuses=_read_names(top, "statuses"),
    )
    top.done()
    return common


def _load_form(cls: type[T], file_name: str, folder: Path | None) -> T:
    path = _forms_dir(folder) / file_name
    top = Table(read_toml(path), str(path))
    _read_header(top)
    texts = _read_fields(cls, top)
    top.done()
    return texts


@cache
def load_declaration(folder: Path | None = None) -> DeclarationTexts:
    return _load_form(DeclarationTexts, "declaration.toml", folder)


@cache
def load_cover(folder: Path | None = None) -> CoverTexts:
    return _load_form(CoverTexts, "cover.toml", folder)


@cache
def load_stamp(folder: Path | None = None) -> StampTexts:
    path = _forms_dir(folder) / "stamp.toml"
    top = Table(read_toml(path), str(path))
    _read_header(top)
    texts = _read_fields(StampTexts, top)
    _check_template(top, "template", texts.template, _STAMP_FIELDS)
    if "{receipt}" not in texts.template:
        raise top.error("template", "must contain {receipt}: the stamp exists to show the receipt number")
    if not 0 < texts.min_font_size_pt <= texts.font_size_pt:
        raise top.error("min_font_size_pt", "must be positive and at most font_size_pt")
    if not 0 <= texts.edge_mm < texts.band_mm:
        raise top.error("edge_mm", "must be at least 0 and less than band_mm")
    if not 0 < texts.ink_level <= 255:
        raise top.error("ink_level", "must be 1–255")
    top.done()
    return texts

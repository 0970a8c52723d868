"""Load and validate the TOML profiles shipped in profiles/ (or an office's own file).

Profiles are data: limits, quality ladders, document kinds, checklists and form texts.
Every problem is reported as a ProfileError naming the file, the key and what is wrong,
so an office editing a profile gets one line, never a traceback.
"""

from __future__ import annotations

import datetime as dt
import os
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

from packager.errors import ProfileError
from packager.model import DocumentKind, Encoding

T = TypeVar("T")

DEFAULT_SYSTEM = "isa-2026"


def profiles_dir() -> Path:
    """The profiles folder: $PACKAGER_PROFILES_DIR, the installed copy, or the checkout's."""
    override = os.environ.get("PACKAGER_PROFILES_DIR")
    if override:
        return Path(override)
    here = Path(__file__).resolve().parent
    installed = here / "_profiles"  # pyproject maps top-level profiles/ here on install
    if (installed / "kinds.toml").is_file():
        return installed
    return here.parent / "profiles"


def read_toml(path: Path) -> dict[str, Any]:
    """Parse one TOML file; a syntax error becomes a ProfileError naming the file."""
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except FileNotFoundError as e:
        raise ProfileError(str(path), "", "no such profile file") from e
    except tomllib.TOMLDecodeError as e:
        raise ProfileError(str(path), "", f"not valid TOML ({e})") from e
    except OSError as e:
        raise ProfileError(str(path), "", f"cannot be read ({e.strerror})") from e


class Table:
    """Typed, strict access to one TOML table: wrong types and unknown keys are errors.

    `prefix` is the dotted path of this table inside the file, for error messages.
    Call `done()` after reading every key to reject keys nobody asked for (typos).
    """

    def __init__(self, data: dict[str, Any], source: str, prefix: str = "") -> None:
        if not isinstance(data, dict):
            raise ProfileError(source, prefix or "(top level)", "must be a table")
        self.data = data
        self.source = source
        self.prefix = prefix
        self._seen: set[str] = set()

    def _key(self, key: str) -> str:
        return f"{self.prefix}.{key}" if self.prefix else key

    def error(self, key: str, problem: str) -> ProfileError:
        return ProfileError(self.source, self._key(key), problem)

    def has(self, key: str) -> bool:
        return key in self.data

    def _get(self, key: str, types: tuple[type, ...], type_name: str, default: Any, required: bool) -> Any:
        self._seen.add(key)
        if key not in self.data:
            if required:
                raise self.error(key, "is missing")
            return default
        value = self.data[key]
        # bool is an int in Python; a profile saying `limit_bytes = true` is still wrong.
        if isinstance(value, bool) and bool not in types:
            raise self.error(key, f"must be {type_name}, not {_type_name(value)}")
        if not isinstance(value, types):
            raise self.error(key, f"must be {type_name}, not {_type_name(value)}")
        return value

    def str(self, key: str, default: str = "", *, required: bool = False) -> str:
        return self._get(key, (str,), "text", default, required)

    def int(self, key: str, default: int = 0, *, required: bool = False, minimum: int | None = None) -> int:
        value = self._get(key, (int,), "an integer", default, required)
        if minimum is not None and value < minimum:
            raise self.error(key, f"must be at least {minimum}, not {value}")
        return value

    def float(self, key: str, default: float = 0.0, *, required: bool = False) -> float:
        return float(self._get(key, (int, float), "a number", default, required))

    def bool(self, key: str, default: bool = False, *, required: bool = False) -> bool:
        return self._get(key, (bool,), "true or false", default, required)

    def date(self, key: str, *, required: bool = False) -> dt.date | None:
        value = self._get(key, (dt.date, str), "a date (YYYY-MM-DD)", None, required)
        if isinstance(value, dt.datetime):
            return value.date()
        if isinstance(value, str):
            try:
                return dt.date.fromisoformat(value)
            except ValueError as e:
                raise self.error(key, f"must be a date (YYYY-MM-DD), not {value!r}") from e
        return value

    def str_list(self, key: str, *, required: bool = False) -> tuple[str, ...]:
        value = self._get(key, (list,), "a list of texts", [], required)
        for i, item in enumerate(value):
            if not isinstance(item, str):
                raise self.error(f"{key}[{i}]", f"must be text, not {_type_name(item)}")
        return tuple(value)

    def table(self, key: str, *, required: bool = False) -> Table:
        value = self._get(key, (dict,), "a table", {}, required)
        return Table(value, self.source, self._key(key))

    def tables(self, key: str, *, required: bool = False) -> Iterator[tuple[str, Table]]:
        """Iterate a table of tables (`[kinds.passport]` …) in file order."""
        parent = self.table(key, required=required)
        for name in list(parent.data):
            yield name, parent.table(name)
        parent.done()

    def table_list(self, key: str, *, required: bool = False) -> list[Table]:
        value = self._get(key, (list,), "a list of tables", [], required)
        return [Table(item, self.source, f"{self._key(key)}[{i}]") for i, item in enumerate(value)]

    def done(self) -> None:
        unknown = [k for k in self.data if k not in self._seen]
        if unknown:
            raise self.error(unknown[0], "is not a known key (a typo?)")


def _type_name(value: object) -> str:
    return {str: "text", int: "an integer", float: "a number", bool: "true/false", list: "a list", dict: "a table"}.get(
        type(value), type(value).__name__
    )


# ---------------------------------------------------------------------------- system profiles


@dataclass(frozen=True)
class SystemProfile:
    """What the online system accepts and how packager fits into it."""

    name: str
    title: str
    source: str
    checked: dt.date | None
    unconfirmed: tuple[str, ...]
    path: Path
    mode: str  # "files" (one PDF per document + photo) | "single-pdf"
    limit_bytes: int
    min_dpi: int
    max_dpi: int
    declaration_reserve_bytes: int
    per_file_overhead_bytes: int
    per_page_overhead_bytes: int
    photo_width_px: int
    photo_height_px: int
    photo_jpeg_quality: int
    ladders: dict[str, tuple[Encoding, ...]]  # page class name → rungs, best first
    first_pass_rungs: dict[str, int]  # rungs encoded before the planner knows it needs more
    max_pixels: int
    max_pages_per_file: int
    plausible_dpi: tuple[int, int]
    drop_blank_pages: bool
    page_time_limit_s: float = 60.0  # one page's decode and encodes in a worker; past it, its input is rejected
    page_memory_limit_mb: int = 3000  # a worker's address space; 0: no limit


_METHODS_BY_CLASS = {
    "bilevel": {"flate-grey4", "flate-grey2", "g4"},  # text pages: grey levels of the strokes, or none
    "grey": {"jpeg-grey", "mrc"},
    "colour": {"jpeg-colour", "mrc"},
}


def _load_ladder(t: Table, key: str, min_dpi: int, max_dpi: int) -> tuple[Encoding, ...]:
    rungs: list[Encoding] = []
    for rung in t.table_list(key, required=True):
        method = rung.str("method", required=True)
        if method not in _METHODS_BY_CLASS[key]:
            raise rung.error("method", f"must be one of {sorted(_METHODS_BY_CLASS[key])}, not {method!r}")
        dpi = rung.int("dpi", required=True)
        if not min_dpi <= dpi <= max_dpi:
            raise rung.error("dpi", f"must be between min_dpi {min_dpi} and max_dpi {max_dpi}, not {dpi}")
        quality = background_dpi = None
        if method.startswith("jpeg") or method == "mrc":
            quality = rung.int("quality", required=True)
            if not 1 <= quality <= 100:
                raise rung.error("quality", f"must be 1–100, not {quality}")
        if method == "mrc":  # dpi is the text mask's; the background (photos, seals) has its own
            background_dpi = rung.int("background_dpi", required=True)
            if not min_dpi <= background_dpi <= dpi:
                raise rung.error("background_dpi", f"must be {min_dpi}–{dpi} (min_dpi to dpi), not {background_dpi}")
        rung.done()
        rungs.append(Encoding(method=method, dpi=dpi, quality=quality, background_dpi=background_dpi))  # type: ignore[arg-type]
    if not rungs:
        raise t.error(key, "must list at least one rung")
    return tuple(rungs)


def find_profile_file(name_or_path: str, folder: str) -> Path:
    """A profile by name (in profiles/<folder>/) or by the path of a TOML file."""
    candidate = Path(name_or_path)
    if candidate.suffix == ".toml" or os.sep in name_or_path or "/" in name_or_path:
        return candidate
    return profiles_dir() / folder / f"{name_or_path}.toml"


def load_system_profile(name_or_path: str = DEFAULT_SYSTEM) -> SystemProfile:
    path = find_profile_file(name_or_path, "systems")
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in (profiles_dir() / "systems").glob("*.toml")))
        raise ProfileError(str(path), "", f"no such system profile {name_or_path!r} (known: {known})")
    return _load_system_profile_cached(path.resolve())


@cache
def _load_system_profile_cached(path: Path) -> SystemProfile:
    top = Table(read_toml(path), str(path))
    upload = top.table("upload", required=True)
    mode = upload.str("mode", required=True)
    if mode not in ("files", "single-pdf"):
        raise upload.error("mode", f"must be 'files' or 'single-pdf', not {mode!r}")
    min_dpi = upload.int("min_dpi", 200, minimum=1)
    max_dpi = upload.int("max_dpi", 300, minimum=min_dpi)
    photo = top.table("photo")
    ladder = top.table("ladder", required=True)
    ladders = {name: _load_ladder(ladder, name, min_dpi, max_dpi) for name in ("bilevel", "grey", "colour")}
    first = ladder.table("first_pass")
    first_pass = {name: first.int(name, 1, minimum=1) for name in ladders}
    first.done()
    ladder.done()
    intake = top.table("intake")
    plausible = intake._get("plausible_dpi", (list,), "a list of two integers", [150, 1200], False)
    if len(plausible) != 2 or not all(isinstance(v, int) and not isinstance(v, bool) for v in plausible):
        raise intake.error("plausible_dpi", "must be a list of two integers [low, high]")
    profile = SystemProfile(
        name=top.str("name", required=True),
        title=top.str("title", required=True),
        source=top.str("source", required=True),
        checked=top.date("checked"),
        unconfirmed=top.str_list("unconfirmed"),
        path=path,
        mode=mode,
        limit_bytes=upload.int("limit_bytes", required=True, minimum=1),
        min_dpi=min_dpi,
        max_dpi=max_dpi,
        declaration_reserve_bytes=upload.int("declaration_reserve_bytes", 300_000, minimum=0),
        per_file_overhead_bytes=upload.int("per_file_overhead_bytes", 2_000, minimum=0),
        per_page_overhead_bytes=upload.int("per_page_overhead_bytes", 700, minimum=0),
        photo_width_px=photo.int("width_px", 600, minimum=1),
        photo_height_px=photo.int("height_px", 800, minimum=1),
        photo_jpeg_quality=photo.int("jpeg_quality", 90, minimum=1),
        ladders=ladders,
        first_pass_rungs=first_pass,
        max_pixels=intake.int("max_pixels", 200_000_000, minimum=1),
        max_pages_per_file=intake.int("max_pages_per_file", 2000, minimum=1),
        plausible_dpi=(plausible[0], plausible[1]),
        drop_blank_pages=intake.bool("drop_blank_pages", True),
        page_time_limit_s=intake.int("page_time_limit_s", 60, minimum=1),
        page_memory_limit_mb=intake.int("page_memory_limit_mb", 3000, minimum=0),
    )
    for t in (upload, photo, intake, top):
        t.done()
    return profile


def list_system_profiles() -> list[SystemProfile]:
    return [load_system_profile(str(p)) for p in sorted((profiles_dir() / "systems").glob("*.toml"))]


# ---------------------------------------------------------------------------- document kinds


@cache
def load_kinds() -> dict[str, DocumentKind]:
    """Every document kind, keyed by kind key, from profiles/kinds.toml."""
    path = profiles_dir() / "kinds.toml"
    top = Table(read_toml(path), str(path))
    top.str("source", required=True)
    top.date("checked")
    kinds: dict[str, DocumentKind] = {}
    for key, t in top.tables("kinds", required=True):
        kinds[key] = DocumentKind(
            key=key,
            name_ja=t.str("name_ja", required=True),
            name_en=t.str("name_en", required=True),
            order=t.int("order", required=True),
            mail_priority=t.int("mail_priority", required=True),
            colour=t.bool("colour", required=True),
            aliases=t.str_list("aliases"),
            titles=t.str_list("titles"),
            words=t.str_list("words"),
            back_words=t.str_list("back_words"),
        )
        t.done()
    top.done()
    if "other" not in kinds:
        raise ProfileError(str(path), "kinds.other", "is missing (unknown files need it)")
    return kinds

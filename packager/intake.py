"""Intake: find the case's files, read case.toml, sniff and vet every input.

Nothing outside CASE_DIR is read: symbolic links and case.toml entries that point
elsewhere are rejected with their reason. Files are identified by their bytes, not
their names. A bad file becomes a Rejection; the rest of the case goes on.
"""

from __future__ import annotations

import fnmatch
import functools
import hashlib
import os
import re
import unicodedata
import warnings
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath
from typing import Any

import pikepdf
from PIL import Image, UnidentifiedImageError

from packager import stability
from packager.errors import InputRejected, ProfileError, first_line
from packager.heif import register_heif
from packager.model import Applicant, CaseInfo, DocumentKind, InputFile, Rejection
from packager.profiles import SystemProfile, Table, load_kinds, read_toml

CASE_FILE = "case.toml"
# Files the watcher or the user put beside the scans that are not documents.
CONTROL_FILES = {CASE_FILE, stability.RECEIPT_FILE, stability.REASON_FILE, stability.OWN_REASON_FILE}


def is_junk(name: str) -> bool:
    """OS and scanner litter that is never a document: the watcher's own filter, so a case
    built by `build` and by `watch` sees the same inputs."""
    return stability.is_junk(name)


@dataclass(frozen=True)
class CaseIntake:
    case_dir: Path
    case: CaseInfo
    inputs: tuple[InputFile, ...]
    rejections: tuple[Rejection, ...]
    ignored: tuple[str, ...]  # junk skipped silently, listed for the manifest
    warnings: tuple[str, ...] = ()  # what a person should know (e.g. kinds not read: no OCR)


# ---------------------------------------------------------------------------- case.toml

# Keys case.toml may carry; unknown keys are an error (a typo would silently lose data).
_CASE_KEYS = {
    "application", "status", "current_status", "applicant", "documents", "bureau", "sender",
    "photo_taken", "issued", "date", "employer_category", "with", "notes", "office",
}


def _employer_category(top: Table) -> int | None:
    """`employer_category = 3` (a number, or the number as text); 1–4 is checked by the checklist."""
    if not top.has("employer_category"):
        return None
    value = top._get("employer_category", (int, str), "a number 1–4", None, False)
    if isinstance(value, str):
        if not value.strip().isdigit():
            raise top.error("employer_category", f"must be 1, 2, 3 or 4, not {value!r}")
        return int(value.strip())
    return int(value)


def _with(top: Table) -> tuple[str, ...]:
    """`with = ["re-entry-permit", …]` (or one comma-separated text): add-on application keys as written."""
    if not top.has("with"):
        return ()
    value = top._get("with", (list, str), "a list of application keys", [], False)
    items = value if isinstance(value, list) else value.split(",")
    if not all(isinstance(v, str) for v in items):
        raise top.error("with", "must be a list of application keys (text)")
    return tuple(v.strip() for v in items if v.strip())


def _text(top: Table, key: str) -> str:
    """Free text kept for people (a list of lines is joined)."""
    value = top._get(key, (str, list), "text", "", False)
    return "\n".join(map(str, value)) if isinstance(value, list) else value


def read_case_info(case_dir: Path) -> CaseInfo:
    """Parse case_dir/case.toml (optional) into CaseInfo; malformed → ProfileError."""
    path = case_dir / CASE_FILE
    if path.is_symlink():
        raise ProfileError(CASE_FILE, "", "is a symbolic link; write case.toml inside the case folder")
    if not path.exists():
        return CaseInfo()
    try:
        data = read_toml(path)
    except ProfileError as e:  # name it as the user knows it, not by its absolute path
        raise ProfileError(CASE_FILE, e.key, e.problem) from e
    top = Table(data, CASE_FILE)
    applicant = top.table("applicant")
    birth = applicant.date("birth_date")
    documents = top.table("documents")
    mapping: list[tuple[str, str]] = []
    for pattern in list(documents.data):
        mapping.append((pattern, documents.str(pattern)))
    documents.done()
    issued_t = top.table("issued")
    issued = [(k, issued_t.date(k)) for k in list(issued_t.data)]
    issued_t.done()
    info = CaseInfo(
        application=top.str("application"),
        status=top.str("status"),
        current_status=top.str("current_status"),
        applicant=Applicant(
            name=applicant.str("name"),
            nationality=applicant.str("nationality"),
            birth_date=birth.isoformat() if birth else "",
            residence_card_number=applicant.str("residence_card_number"),
        ),
        documents=tuple(mapping),
        bureau=top.str("bureau"),
        sender=top.str("sender"),
        photo_taken=top.date("photo_taken"),
        issued=tuple((k, d) for k, d in issued if d is not None),
        date=top.date("date"),
        employer_category=_employer_category(top),
        with_=_with(top),
        notes=_text(top, "notes"),
        office=_text(top, "office"),
    )
    applicant.done()
    unknown = [k for k in top.data if k not in _CASE_KEYS]
    if unknown:
        raise top.error(unknown[0], f"is not a case.toml key (known: {', '.join(sorted(_CASE_KEYS))})")
    top.done()
    return info


# ---------------------------------------------------------------------------- kinds from names

_LEADING_NUMBER = re.compile(r"^\d+[-_. ]*")
_TRAILING_NUMBER = re.compile(r"[-_ ]*\(?\d+\)?$")


def normalise_stem(name: str) -> str:
    """'03_Tax-Certificate (2).PDF' → 'tax-certificate'. Case, _/-, numbering ignored."""
    stem = unicodedata.normalize("NFKC", PurePosixPath(name).stem).lower()
    stem = re.sub(r"[\s_.]+", "-", stem)
    stem = _LEADING_NUMBER.sub("", stem)
    stem = _TRAILING_NUMBER.sub("", stem)
    return stem.strip("-")


def _tokens(stem: str) -> list[str]:
    return [t for t in stem.split("-") if t]


@functools.cache  # asked of the same few hundred aliases for every file: ~1 ms a file otherwise
def _is_cjk(text: str) -> bool:
    return any(unicodedata.east_asian_width(ch) in ("W", "F") for ch in text)


def kind_from_name(name: str, kinds: dict[str, DocumentKind]) -> str | None:
    """The kind a file name names: the longest key or alias found in it.

    English aliases of two or more words match anywhere in the name ('09_tax_cert_prev_year'
    holds 'tax-cert'); one-word aliases ('bank', 'pp') only as its first word. Japanese aliases match anywhere
    ('令和7年度課税証明書' holds '課税証明書'): Japanese has no spaces between words.
    """
    stem = normalise_stem(name)
    words = _tokens(stem)
    best: tuple[int, int, str] | None = None  # (alias length, -position, kind)
    for kind in kinds.values():
        for alias in (kind.key, *kind.aliases):
            at = _find_alias(alias, stem, words)
            if at is None:
                continue
            score = (len(alias), -at, kind.key)
            if best is None or score[:2] > best[:2]:
                best = score
    return best[2] if best else None


def _find_alias(alias: str, stem: str, words: list[str]) -> int | None:
    """Where alias occurs in the name (word index, or character index for Japanese), or None."""
    if _is_cjk(alias):
        at = stem.find(alias)
        return at if at >= 0 else None
    alias_words = _tokens(alias)
    n = len(alias_words)
    if not n:
        return None
    # One-word aliases ('bank', 'contract', 'pp') only as the name's first word: further in they
    # are as likely part of something else ('letter from bank'); longer ones anywhere.
    last = 1 if n == 1 else len(words) - n + 1
    for i in range(max(0, last)):
        if words[i : i + n] == alias_words:
            return i
    return None


_BACK_WORDS = {"back", "reverse", "ura", "裏", "裏面"}
_FRONT_WORDS = {"front", "omote", "表", "表面"}


def side_from_name(name: str) -> str:
    """'front', 'back' or '' from words of the name ('card_back (2).jpg' → 'back')."""
    stem = normalise_stem(name)
    words = set(_tokens(stem))
    if words & _BACK_WORDS or any(w in stem for w in ("裏面", "ウラ")):
        return "back"
    if words & _FRONT_WORDS or any(w in stem for w in ("表面", "オモテ")):
        return "front"
    return ""


def order_inputs(inputs: list[InputFile]) -> list[InputFile]:
    """Documents in the order their first file appears; within one, scan order, except that a
    card's back follows its front (natural order puts 'back' before 'front')."""
    first: dict[str, int] = {}
    for i, inp in enumerate(inputs):
        first.setdefault(inp.document, i)
    rank = {"front": 0, "": 0, "back": 1}
    return [
        inp for _, inp in sorted(
            enumerate(inputs), key=lambda t: (first[t[1].document], rank.get(t[1].side, 0), t[0])
        )
    ]  # fmt: skip


def slug(text: str) -> str:
    """An ASCII file-name part: 'Bank letter (2021)' → 'bank-letter-2021'."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    s = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return s[:40] or "document"


# ---------------------------------------------------------------------------- sniffing

_HEIF_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1", b"avif"}


def sniff_format(head: bytes) -> str | None:
    """The file format from its first bytes, or None when it is not a known document."""
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "tiff"
    if head[4:8] == b"ftyp" and head[8:12] in _HEIF_BRANDS:
        return "heif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head[:2] == b"BM":
        return "bmp"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    # The PDF header may follow some junk (PDF 32000-1 §7.5.2 tolerance in readers).
    if b"%PDF-" in head[:1024]:
        return "pdf"
    return None


def _describe_unknown(head: bytes) -> str:
    if not head:
        return "is empty (0 bytes)"
    sample = head[:512]
    try:
        sample.decode("utf-8")
        return "is a text file, not a scanned document or PDF"
    except UnicodeDecodeError:
        pass
    if head.startswith(b"PK\x03\x04"):
        return "is a ZIP/Office file, not a scanned document or PDF (export it as PDF)"
    return "is not a document packager can read (not PDF, JPEG, PNG, TIFF, HEIC, WebP or BMP)"


def _vet_pdf(path: Path, rel: str, system: SystemProfile) -> tuple[int, str]:
    """(page count, reader): the most pages either reader finds, and the reader that finds them.

    qpdf (pikepdf) and PDFium repair damaged page trees differently: a /Kids entry with a
    wrong generation number is 0 pages to qpdf and 1 renderable page to PDFium. Counting
    with one reader alone would accept such a file with no pages and lose it silently.
    """
    count = 0
    problem = ""
    try:
        with pikepdf.open(path) as pdf:
            count = len(pdf.pages)
    except pikepdf.PasswordError as e:
        raise InputRejected(
            rel, "is password-protected (needs a password to open): save or scan it again without a password"
        ) from e
    except Exception as e:  # any parser error on hostile bytes: PDFium may still see the pages
        problem = first_line(e).replace(str(path) + ": ", "").replace(str(path), rel)
    seen = _pdfium_pages(path, count)
    reader = "pdfium" if seen > count else "pikepdf"
    count = max(count, seen)
    if count == 0:
        if problem:
            raise InputRejected(rel, f"is a damaged PDF that cannot be read ({problem})")
        raise InputRejected(rel, "is a PDF with no pages that any reader can open (its page tree is empty or damaged)")
    if count > system.max_pages_per_file:
        raise InputRejected(rel, f"has {count} pages; more than {system.max_pages_per_file} is refused")
    return count, reader


def _pdfium_pages(path: Path, known: int) -> int:
    """Pages PDFium can load, counted only when it claims more than `known` (the common case
    of agreement costs one document open)."""
    import pypdfium2 as pdfium

    try:
        doc = pdfium.PdfDocument(path)
    except Exception:  # PDFium refuses it too (or asks a password, which pikepdf reported)
        return 0
    try:
        claimed = len(doc)
        if claimed <= known:
            return claimed
        loadable = 0
        # PDFium's count is the root's /Count, which a damaged file may overstate: count the
        # pages it really loads (a page dictionary, not a render), up to the refusal limit + 1.
        for i in range(min(claimed, 100_000)):
            try:
                doc[i].close()
            except Exception:
                continue
            loadable += 1
        return loadable
    finally:
        doc.close()


def _describe_error(e: BaseException, path: Path, rel: str) -> str:
    """A decoder's error in one line, naming the file as the user knows it."""
    text = first_line(e).replace(str(path), rel)
    return text if type(e).__name__ in text else f"{type(e).__name__}: {text}"


def _vet_image(path: Path, rel: str, fmt: str, system: SystemProfile) -> int:
    if fmt == "heif":
        register_heif()
    # Pillow's own bomb check would raise before ours can name the limit: ours is stricter anyway.
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            # Pillow's remarks on odd bytes ("Corrupt EXIF data" …) are not for the user's
            # terminal: the file is accepted or rejected by what it raises, with one line.
            warnings.filterwarnings("ignore", category=UserWarning, module="PIL")
            with Image.open(path) as im:
                frames = getattr(im, "n_frames", 1) if fmt in ("tiff", "gif") else 1
                for i in range(frames):
                    if frames > 1:
                        im.seek(i)
                    w, h = im.size
                    if w * h > system.max_pixels:
                        raise InputRejected(
                            rel,
                            f"has too many pixels ({w}×{h} = {w * h / 1e6:.0f} MP; the limit is "
                            f"{system.max_pixels / 1e6:.0f} MP): a pixel bomb or a mis-scan",
                        )
                    if w < 16 or h < 16:
                        raise InputRejected(rel, f"is only {w}×{h} pixels: too small to be a scanned page")
    except InputRejected:
        raise
    except Image.DecompressionBombError as e:
        raise InputRejected(rel, f"has too many pixels ({first_line(e)})") from e
    except Exception as e:  # hostile bytes raise anything (TypeError, struct.error, MemoryError …)
        if isinstance(e, UnidentifiedImageError):  # Pillow's name and its path say nothing to a user
            raise InputRejected(rel, f"is a damaged {fmt.upper()} image (no picture can be read from it)") from e
        raise InputRejected(rel, f"is a damaged {fmt.upper()} image ({_describe_error(e, path, rel)})") from e
    if fmt == "jpeg" and not _jpeg_complete(path):
        raise InputRejected(rel, "is a truncated JPEG (the file ends before the image does): copy or scan it again")
    if fmt == "png" and not _png_complete(path):
        raise InputRejected(rel, "is a truncated PNG (no end chunk): copy or scan it again")
    if frames > system.max_pages_per_file:
        raise InputRejected(rel, f"has {frames} pages; more than {system.max_pages_per_file} is refused")
    return frames


def _tail(path: Path, n: int) -> bytes:
    with path.open("rb") as f:
        f.seek(0, 2)
        size = f.tell()
        f.seek(max(0, size - n))
        return f.read()


def _jpeg_complete(path: Path) -> bool:
    # A JPEG ends with EOI (FF D9), possibly followed by padding or an appended trailer.
    return b"\xff\xd9" in _tail(path, 4096)


def _png_complete(path: Path) -> bool:
    return b"IEND" in _tail(path, 64)


def _head(path: Path) -> tuple[int, bytes]:
    """(size, first bytes): what sniffing needs, without reading the whole file."""
    with path.open("rb") as f:
        return os.fstat(f.fileno()).st_size, f.read(2048)


def _digest(path: Path) -> tuple[str, int, bytes]:
    h = hashlib.sha256()
    size = 0
    head = b""
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            if not head:
                head = chunk[:2048]
            h.update(chunk)
            size += len(chunk)
    return h.hexdigest(), size, head


# ---------------------------------------------------------------------------- the case


def _natural_key(text: str) -> list[Any]:
    """scan2 before scan10."""
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", text)]


def _walk(case_dir: Path) -> tuple[list[Path], list[Rejection], list[str]]:
    files: list[Path] = []
    rejections: list[Rejection] = []
    ignored: list[str] = []
    stack = [case_dir]
    while stack:
        folder = stack.pop()
        for entry in sorted(folder.iterdir(), key=lambda p: _natural_key(p.name)):
            rel = entry.relative_to(case_dir).as_posix()
            if is_junk(entry.name):
                ignored.append(rel)
            elif entry.is_symlink():
                rejections.append(
                    Rejection(rel, "is a symbolic link: packager reads only files inside the case folder")
                )
            elif entry.is_dir():
                stack.append(entry)
            elif not entry.is_file():
                rejections.append(Rejection(rel, "is not a regular file"))
            elif folder == case_dir and (entry.name in CONTROL_FILES or stability.is_ready_marker(entry.name)):
                continue
            else:
                files.append(entry)
    files.sort(key=lambda p: _natural_key(p.relative_to(case_dir).as_posix()))
    return files, rejections, ignored


def _mapping_rejections(case: CaseInfo, case_dir: Path) -> list[Rejection]:
    out = []
    for pattern, _kind in case.documents:
        p = PurePosixPath(pattern)
        if p.is_absolute() or ".." in p.parts or Path(pattern).is_absolute() or "\\" in pattern:
            out.append(
                Rejection(pattern, "case.toml names a file outside the case folder; only files inside it are read")
            )
    return out


def _kind_for(rel: str, case: CaseInfo, kinds: dict[str, DocumentKind]) -> tuple[str, str, str]:
    """(kind, document key, how decided) for an input: case.toml mapping first, then the file name."""
    name = PurePosixPath(rel).name
    for pattern, kind in case.documents:
        p = PurePosixPath(pattern)
        if p.is_absolute() or ".." in p.parts:
            continue
        if rel == pattern or name == pattern or fnmatch.fnmatchcase(rel, pattern) or fnmatch.fnmatchcase(name, pattern):
            if kind != "other":
                return kind, kind, "case.toml"
            return "other", "other-" + slug(PurePosixPath(rel).stem), "case.toml"
    kind = kind_from_name(name, kinds)
    if kind and kind != "other":
        return kind, kind, "name"
    return "other", "other-" + slug(normalise_stem(name) or PurePosixPath(rel).stem), "default"


def scan_case(case_dir: Path, system: SystemProfile, *, digests: bool = True) -> CaseIntake:
    """Everything intake knows of a case: CaseInfo, accepted inputs, rejections.

    `digests=False`: the inputs' sha256 is left empty, for add_digests to fill in later (the
    build hashes alongside its first pass: ~0.2 s of CPU for the heavy bundle's 257 MB that
    nothing before the manifest needs)."""
    case_dir = case_dir.resolve() if not case_dir.is_symlink() else case_dir
    case = read_case_info(case_dir)
    kinds = load_kinds()
    for pattern, kind in case.documents:
        if kind not in kinds:
            close = ", ".join(sorted(kinds))
            raise ProfileError(CASE_FILE, f"documents.{pattern!r}", f"unknown document kind {kind!r} (known: {close})")
    files, rejections, ignored = _walk(case_dir)
    rejections = _mapping_rejections(case, case_dir) + rejections
    inputs: list[InputFile] = []
    for path in files:
        rel = path.relative_to(case_dir).as_posix()
        try:
            inputs.append(_vet_input(path, rel, case, kinds, system, digests))
        except InputRejected as e:
            rejections.append(Rejection(rel, e.reason))
        except OSError as e:
            rejections.append(Rejection(rel, f"cannot be read ({e.strerror or e})"))
        except Exception as e:  # isolation: whatever one file's bytes do, the others go on
            rejections.append(Rejection(rel, f"cannot be read ({_describe_error(e, path, rel)})"))
    return CaseIntake(case_dir, case, tuple(order_inputs(inputs)), tuple(rejections), tuple(ignored))


def _vet_input(
    path: Path, rel: str, case: CaseInfo, kinds: dict[str, DocumentKind], system: SystemProfile, digests: bool
) -> InputFile:
    sha, size, head = _digest(path) if digests else ("", *_head(path))
    if size == 0:
        raise InputRejected(rel, "is empty (0 bytes)")
    fmt = sniff_format(head)
    if fmt is None:
        raise InputRejected(rel, _describe_unknown(head))
    reader = ""
    if fmt == "pdf":
        pages, reader = _vet_pdf(path, rel, system)
    else:
        pages = _vet_image(path, rel, fmt, system)
    kind, document, kind_from = _kind_for(rel, case, kinds)
    return InputFile(
        path=rel, abs_path=path, sha256=sha, bytes_=size, format=fmt, page_count=pages, kind=kind, document=document,
        pdf_reader=reader, kind_from=kind_from, side=side_from_name(rel),
    )


def add_digests(found: CaseIntake) -> CaseIntake:
    """The case with every accepted input's sha256 (scan_case with `digests=False` left it
    empty); an input that can no longer be read is rejected, as scan_case would have."""
    inputs: list[InputFile] = []
    rejections = list(found.rejections)
    for inp in found.inputs:
        if inp.sha256:
            inputs.append(inp)
            continue
        try:
            sha = _digest(inp.abs_path)[0]
        except OSError as e:
            rejections.append(Rejection(inp.path, f"cannot be read ({e.strerror or e})"))
            continue
        inputs.append(replace(inp, sha256=sha))
    return replace(found, inputs=tuple(inputs), rejections=tuple(rejections))

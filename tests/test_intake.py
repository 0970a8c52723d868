"""intake: sniffing by content, kinds from names, case.toml, and every kind of bad input."""

from __future__ import annotations

import datetime as dt
import os
import warnings
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fixtures.broken import FILES, VALID_KINDS, make_broken_inputs
from packager.errors import ProfileError
from packager.intake import is_junk, kind_from_name, normalise_stem, read_case_info, scan_case, sniff_format
from packager.profiles import load_kinds, load_system_profile

SYSTEM = load_system_profile()

# What each bad input's one-line reason must say (the part a user acts on).
EXPECTED_REASON = {
    "zero-bytes": "is empty (0 bytes)",
    "truncated-jpeg": "truncated JPEG",
    "corrupt-pdf": "damaged PDF",
    "encrypted-pdf": "password-protected",
    "text-named-pdf": "is a text file",
    "random-bytes-jpg": "is not a document",
    "pixel-bomb": "too many pixels",
    "one-pixel": "too small",
    "tiff-missing-dimensions": "damaged TIFF",
    "pdf-no-readable-page": "no pages that any reader can open",
}


@pytest.fixture(scope="module")
def broken_case(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("broken")
    make_broken_inputs(folder)
    return folder


def test_every_bad_input_is_rejected_with_its_reason(broken_case: Path) -> None:
    result = scan_case(broken_case, SYSTEM)
    reasons = {r.path: r.reason for r in result.rejections}
    for name, badness in FILES.items():
        if badness in VALID_KINDS:
            assert name not in reasons
            continue
        assert name in reasons, f"{name} ({badness}) was accepted"
        assert EXPECTED_REASON[badness] in reasons[name]
        assert "\n" not in reasons[name]
        assert str(broken_case) not in reasons[name], "reasons name the file relative to the case"
    accepted = {i.path for i in result.inputs}
    assert accepted == {n for n, b in FILES.items() if b in VALID_KINDS}


def test_symlinks_are_rejected_and_never_read(tmp_path: Path) -> None:
    secret = tmp_path / "outside.pdf"
    secret.write_bytes(b"%PDF-1.4 secret")
    case = tmp_path / "case"
    case.mkdir()
    (case / "passport.pdf").symlink_to(secret)
    (case / "linked-dir").symlink_to(tmp_path)
    result = scan_case(case, SYSTEM)
    reasons = {r.path: r.reason for r in result.rejections}
    assert "symbolic link" in reasons["passport.pdf"]
    assert "symbolic link" in reasons["linked-dir"]
    assert not result.inputs


def test_case_toml_entries_outside_the_case_are_rejected(tmp_path: Path) -> None:
    (tmp_path / "case.toml").write_text(
        '[documents]\n"../x.pdf" = "passport"\n"/etc/passwd" = "passport"\n', encoding="utf-8"
    )
    result = scan_case(tmp_path, SYSTEM)
    reasons = {r.path: r.reason for r in result.rejections}
    assert "outside the case folder" in reasons["../x.pdf"]
    assert "outside the case folder" in reasons["/etc/passwd"]


def test_junk_and_control_files_are_not_documents(tmp_path: Path) -> None:
    for name in (".DS_Store", "Thumbs.db", "desktop.ini", "~$draft.docx", "scan.tmp", "a.part", "b.crdownload"):
        (tmp_path / name).write_bytes(b"x")
    (tmp_path / "@eaDir").mkdir()
    (tmp_path / "READY").write_text("")
    result = scan_case(tmp_path, SYSTEM)
    assert not result.inputs and not result.rejections
    assert "Thumbs.db" in result.ignored


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("passport.pdf", "passport"),
        ("passport-2.jpg", "passport"),
        ("03_tax-certificate.pdf", "tax-certificate"),
        ("employment_certificate.jpg", "employment-certificate"),
        ("Residence_Card_Front.JPG", "residence-card"),
        ("tax-payment-certificate.png", "tax-payment-certificate"),
        ("決算書.pdf", "financial-statements"),
        ("scan0001.pdf", None),
        ("passportcopy.pdf", None),
    ],
)
def test_kind_from_name(name: str, kind: str | None) -> None:
    assert kind_from_name(name, load_kinds()) == kind


@given(st.text(min_size=1, max_size=30))
def test_normalise_stem_never_fails_and_is_lower_ascii_dashes(name: str) -> None:
    stem = normalise_stem(name + ".pdf")
    assert stem == stem.lower()
    assert "_" not in stem and " " not in stem


def test_files_of_one_document_merge_in_natural_order(tmp_path: Path) -> None:
    from fixtures.broken import _small_scan_pdf

    for n in (10, 2, 1):
        (tmp_path / f"financial-statements-{n}.pdf").write_bytes(_small_scan_pdf())
    result = scan_case(tmp_path, SYSTEM)
    assert [i.path for i in result.inputs] == [
        "financial-statements-1.pdf",
        "financial-statements-2.pdf",
        "financial-statements-10.pdf",
    ]
    assert {i.document for i in result.inputs} == {"financial-statements"}


def test_unknown_names_are_their_own_documents(tmp_path: Path) -> None:
    from fixtures.broken import _small_scan_pdf

    (tmp_path / "letter from bank.pdf").write_bytes(_small_scan_pdf())
    (tmp_path / "misc.pdf").write_bytes(_small_scan_pdf())
    docs = {i.path: i.document for i in scan_case(tmp_path, SYSTEM).inputs}
    assert docs == {"letter from bank.pdf": "other-letter-from-bank", "misc.pdf": "other-misc"}


@pytest.mark.parametrize(
    ("head", "fmt"),
    [
        (b"\xff\xd8\xff\xe0", "jpeg"),
        (b"\x89PNG\r\n\x1a\n", "png"),
        (b"II*\x00", "tiff"),
        (b"MM\x00*", "tiff"),
        (b"\x00\x00\x00\x18ftypheic", "heif"),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "webp"),
        (b"BM\x00\x00", "bmp"),
        (b"garbage\n%PDF-1.7", "pdf"),
        (b"hello", None),
    ],
)
def test_sniff_format(head: bytes, fmt: str | None) -> None:
    assert sniff_format(head) == fmt


def test_case_toml_is_parsed(tmp_path: Path) -> None:
    (tmp_path / "case.toml").write_text(
        'application = "extension"\nstatus = "student"\n[applicant]\nname = "A B"\nbirth_date = 1990-01-02\n'
        '[documents]\n"scan*.pdf" = "passport"\n',
        encoding="utf-8",
    )
    info = read_case_info(tmp_path)
    assert info.application == "extension"
    assert info.applicant.birth_date == "1990-01-02"
    assert info.documents == (("scan*.pdf", "passport"),)


def test_case_toml_extras_are_typed_once(tmp_path: Path) -> None:
    (tmp_path / "case.toml").write_text(
        'date = 2026-01-05\nemployer_category = "3"\nwith = ["re-entry-permit"]\nnotes = ["a", "b"]\n',
        encoding="utf-8",
    )
    info = read_case_info(tmp_path)
    assert info.date == dt.date(2026, 1, 5) and info.employer_category == 3
    assert info.with_ == ("re-entry-permit",) and info.notes == "a\nb"
    (tmp_path / "case.toml").write_text('with = "re-entry-permit, activity-outside-status"\n', encoding="utf-8")
    assert read_case_info(tmp_path).with_ == ("re-entry-permit", "activity-outside-status")


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("aplication = 'extension'\n", "aplication"),
        ("application = 3\n", "application"),
        ("[applicant]\nname = 'x'\nnmae = 'y'\n", "applicant.nmae"),
        ("application = \n", ""),
        ("employer_category = 'three'\n", "employer_category"),
        ("employer_category = 2.5\n", "employer_category"),
        ("with = [1]\n", "with"),
        ("date = 'soon'\n", "date"),
    ],
)
def test_malformed_case_toml_names_the_key(tmp_path: Path, text: str, key: str) -> None:
    (tmp_path / "case.toml").write_text(text, encoding="utf-8")
    with pytest.raises(ProfileError) as e:
        read_case_info(tmp_path)
    assert str(e.value).startswith("case.toml")
    assert key in str(e.value)
    assert "\n" not in str(e.value)


def test_inputs_are_only_read(tmp_path: Path) -> None:
    make_broken_inputs(tmp_path)
    before = {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in tmp_path.iterdir()}
    scan_case(tmp_path, SYSTEM)
    after = {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in tmp_path.iterdir()}
    assert before == after


def test_is_junk() -> None:
    assert is_junk(".hidden") and is_junk("Thumbs.db") and is_junk("x.PART")
    assert not is_junk("passport.pdf")


def test_unreadable_file_is_a_rejection_not_a_crash(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root reads every file")
    p = tmp_path / "passport.pdf"
    p.write_bytes(b"%PDF-1.4")
    p.chmod(0)
    result = scan_case(tmp_path, SYSTEM)
    assert "cannot be read" in result.rejections[0].reason


def test_a_tiff_header_without_a_picture_is_named_plainly_and_warns_nothing(tmp_path: Path) -> None:
    """A TIFF header whose directory is empty: Pillow's exception name and its "Corrupt EXIF
    data" warning are not for the user; the reason is one plain line."""
    (tmp_path / "scan.tif").write_bytes(b"II*\x00\x08\x00\x00\x00")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any warning left over fails the test
        result = scan_case(tmp_path, SYSTEM)
    (rejection,) = result.rejections
    assert rejection.reason == "is a damaged TIFF image (no picture can be read from it)"


def test_digests_can_come_later_and_are_the_same(broken_case: Path) -> None:
    """The build sniffs and vets first and hashes alongside its first pass: the same inputs, the
    same rejections, the same digests; a file gone meanwhile is rejected then."""
    from packager.intake import add_digests

    now = scan_case(broken_case, SYSTEM)
    found = scan_case(broken_case, SYSTEM, digests=False)
    assert all(i.sha256 == "" for i in found.inputs) and found.rejections == now.rejections
    assert add_digests(found) == now
    gone = found.inputs[0]
    gone.abs_path.rename(gone.abs_path.with_name("moved-away"))
    try:
        later = add_digests(found)
    finally:
        gone.abs_path.with_name("moved-away").rename(gone.abs_path)
    assert gone.path not in {i.path for i in later.inputs}
    assert later.rejections[-1].path == gone.path and "cannot be read" in later.rejections[-1].reason

"""packager.forms.declaration: 資料添付に係る申告書, read back as a user's reader would."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
import unicodedata
from pathlib import Path

import pikepdf
import pytest

from packager.errors import ProfileError
from packager.forms import texts
from packager.forms.declaration import render_declaration
from packager.model import Applicant, CaseInfo, DocumentSummary
from packager.profiles import profiles_dir

pytestmark = pytest.mark.skipif(shutil.which("pdftotext") is None, reason="poppler-utils not installed")

CASE = CaseInfo(
    application="extension",
    status="engineer-humanities-international",
    current_status="engineer-humanities-international",
    applicant=Applicant(name="NGUYEN VAN AN", nationality="ベトナム", birth_date="1994-03-12",
                        residence_card_number="AB12345678CD"),
)
UPLOADED = [
    DocumentSummary("application-form", "在留申請書", "Application form", 4, "01-application-form.pdf"),
    DocumentSummary("passport", "旅券", "Passport", 2, "02-passport.pdf"),
    DocumentSummary("residence-card", "在留カード", "Residence card", 2, "03-residence-card.pdf"),
]
MAILED = [
    DocumentSummary("financial-statements", "決算書", "Financial statements", 62, "06-financial-statements.pdf"),
    DocumentSummary("company-register", "登記事項証明書", "Certificate of registered matters", 5,
                    "07-company-register.pdf"),
]
DAY = dt.date(2026, 2, 3)


def _text(data: bytes, tmp_path: Path) -> str:
    path = tmp_path / "form.pdf"
    path.write_bytes(data)
    out = subprocess.run(["pdftotext", "-enc", "UTF-8", str(path), "-"], capture_output=True, check=True).stdout
    return unicodedata.normalize("NFKC", out.decode("utf-8"))


def _fonts(data: bytes, tmp_path: Path) -> list[str]:
    path = tmp_path / "fonts.pdf"
    path.write_bytes(data)
    listing = subprocess.run(["pdffonts", str(path)], capture_output=True, text=True, check=True).stdout
    return listing.splitlines()[2:]


def test_reader_finds_title_applicant_and_every_document(tmp_path: Path) -> None:
    text = _text(render_declaration(CASE, UPLOADED, MAILED, DAY), tmp_path)
    joined = "".join(text.split())  # Japanese sentences wrap anywhere
    assert "資料添付に係る申告書" in text
    assert "Declaration Regarding Attached Documents" in text
    assert "NGUYEN VAN AN" in text
    assert "AB12345678CD" in text
    assert "1994年3月12日" in text
    for doc in [*UPLOADED, *MAILED]:
        assert doc.name_ja in text, doc.key
        assert doc.file_name in text
    assert "在留期間更新許可申請" in text  # application shown by name, not key
    assert "技術・人文知識・国際業務" in text
    assert "残りの資料は郵送により提出します" in joined
    assert "提出漏れはありません" in joined
    assert "2026年2月3日" in text
    assert "67" in text and "8" in text  # totals: mailed 62 + 5, uploaded 4 + 2 + 2


def test_every_font_is_embedded(tmp_path: Path) -> None:
    rows = _fonts(render_declaration(CASE, UPLOADED, MAILED, DAY), tmp_path)
    assert rows
    for row in rows:
        assert row.split()[-5] == "yes", row
        assert "Helvetica" not in row


def test_a4_and_deterministic() -> None:
    a = render_declaration(CASE, UPLOADED, MAILED, DAY)
    b = render_declaration(CASE, UPLOADED, MAILED, DAY)
    assert a == b
    with pikepdf.open(__import__("io").BytesIO(a)) as pdf:
        for page in pdf.pages:
            box = [float(v) for v in page.mediabox]
            assert round(box[2]) == 595 and round(box[3]) == 842


def test_unknown_keys_fall_back_to_the_key_and_empty_case_renders(tmp_path: Path) -> None:
    case = CaseInfo(application="future-application", status="new-status")
    text = _text(render_declaration(case, [], MAILED, DAY), tmp_path)
    assert "future-application" in text and "new-status" in text
    assert "なし" in text  # no uploaded documents: the table says so


def test_long_lists_flow_onto_more_pages_with_their_header(tmp_path: Path) -> None:
    many = [DocumentSummary(f"other-{i}", f"その他の資料{i}", f"Other {i}", 1, f"{i:02d}-other.pdf") for i in range(40)]
    data = render_declaration(CASE, many, MAILED, DAY)
    text = _text(data, tmp_path)
    assert all(f"その他の資料{i}" in text for i in range(40))
    with pikepdf.open(__import__("io").BytesIO(data)) as pdf:
        assert len(pdf.pages) >= 2


def test_markup_in_names_is_printed_not_interpreted(tmp_path: Path) -> None:
    case = CaseInfo(applicant=Applicant(name="A & B <C>"))
    assert "A & B <C>" in _text(render_declaration(case, UPLOADED, MAILED, DAY), tmp_path)


def test_texts_come_from_the_profile(tmp_path: Path) -> None:
    forms = tmp_path / "forms"
    shutil.copytree(profiles_dir() / "forms", forms)
    toml = forms / "declaration.toml"
    toml.write_text(toml.read_text(encoding="utf-8").replace("資料添付に係る申告書", "添付資料申告書（事務所版）"),
                    encoding="utf-8")
    text = _text(render_declaration(CASE, UPLOADED, MAILED, DAY, texts_dir=forms), tmp_path)
    assert "添付資料申告書(事務所版)" in text


def test_malformed_profile_is_a_one_line_profile_error(tmp_path: Path) -> None:
    forms = tmp_path / "forms"
    shutil.copytree(profiles_dir() / "forms", forms)
    toml = forms / "declaration.toml"
    toml.write_text(toml.read_text(encoding="utf-8").replace("title_en =", "titel_en ="), encoding="utf-8")
    with pytest.raises(ProfileError) as e:
        texts.load_declaration(forms)
    assert "declaration.toml" in str(e.value) and "title_en" in str(e.value)
    assert "\n" not in str(e.value)


def test_bad_placeholder_in_a_template_is_a_profile_error(tmp_path: Path) -> None:
    forms = tmp_path / "forms"
    shutil.copytree(profiles_dir() / "forms", forms)
    toml = forms / "stamp.toml"
    toml.write_text(toml.read_text(encoding="utf-8").replace("{receipt} —", "{reciept} —"), encoding="utf-8")
    with pytest.raises(ProfileError, match="reciept"):
        texts.load_stamp(forms)

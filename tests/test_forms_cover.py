"""packager.forms.cover: 送付状, before and after the receipt number is known."""

from __future__ import annotations

import datetime as dt
import io
import shutil
import subprocess
import unicodedata
from pathlib import Path

import numpy as np
import pikepdf
import pypdfium2 as pdfium
import pytest

from packager.forms.cover import addressee_line, render_cover_sheet
from packager.forms.layout import QrCode
from packager.forms.texts import load_cover
from packager.model import Applicant, CaseInfo, DocumentSummary

pytestmark = pytest.mark.skipif(shutil.which("pdftotext") is None, reason="poppler-utils not installed")

RECEIPT = "福オンＥＮ25001878"
CASE = CaseInfo(
    application="change",
    status="engineer-humanities-international",
    current_status="student",
    applicant=Applicant(
        name="李 明", nationality="中国", birth_date="2000-07-01", residence_card_number="UH98765432AB"
    ),
    bureau="福岡出入国在留管理局",
    sender="行政書士法人 さくら事務所",
)
MAILED = [
    DocumentSummary("financial-statements", "決算書", "Financial statements", 62, "06-financial-statements.pdf"),
    DocumentSummary("company-register", "登記事項証明書", "Certificate of registered matters", 5,
                    "07-company-register.pdf"),
]
DAY = dt.date(2026, 2, 6)


def _text(data: bytes, tmp_path: Path) -> str:
    path = tmp_path / "cover.pdf"
    path.write_bytes(data)
    out = subprocess.run(["pdftotext", "-enc", "UTF-8", str(path), "-"], capture_output=True, check=True).stdout
    return unicodedata.normalize("NFKC", out.decode("utf-8"))


def test_blank_cover_has_a_line_for_the_number(tmp_path: Path) -> None:
    text = _text(render_cover_sheet(CASE, MAILED, None, None, DAY), tmp_path)
    assert "送付状" in text
    assert "申請受付番号" in text
    assert "記入してください" in text  # the note under the line to write on
    assert "福岡出入国在留管理局 御中" in text
    assert "行政書士法人 さくら事務所" in text
    assert "李明" in text.replace(" ", "")  # readers drop a space between CJK characters
    assert "在留資格変更許可申請" in text and "留学" in text  # change: new and current status
    for doc in MAILED:
        assert doc.name_ja in text
    assert "67" in text  # total pages


def test_stamped_cover_shows_the_number_and_filing_date(tmp_path: Path) -> None:
    text = _text(render_cover_sheet(CASE, MAILED, RECEIPT, dt.date(2026, 2, 5), DAY), tmp_path)
    assert unicodedata.normalize("NFKC", RECEIPT) in text
    assert "2026年2月5日" in text
    assert "記入してください" not in text


def test_receipt_printed_large_with_a_qr_code(tmp_path: Path) -> None:
    blank = render_cover_sheet(CASE, MAILED, None, None, DAY)
    stamped = render_cover_sheet(CASE, MAILED, RECEIPT, None, DAY)

    def ink(data: bytes) -> int:
        doc = pdfium.PdfDocument(data)
        gray = np.asarray(doc[0].render(scale=1, grayscale=True).to_pil().convert("L"))
        doc.close()
        return int(np.count_nonzero(gray < 128))

    assert ink(stamped) > ink(blank) + 2000  # the QR code's modules and the large number


def test_qr_holds_the_number_as_utf8_with_eci() -> None:
    qr = QrCode(RECEIPT, 100)
    data = qr.modules
    assert len(data) >= 21 and all(len(row) == len(data) for row in data)  # a square symbol
    # Same text, same symbol; a different number, a different symbol.
    assert QrCode(RECEIPT, 50).modules == data
    assert QrCode("福オンＥＮ25001879", 100).modules != data


def test_addressee_placeholder_and_honorific() -> None:
    tx = load_cover()
    assert addressee_line(CaseInfo(), tx) == tx.addressee_default
    assert addressee_line(CaseInfo(bureau="東京出入国在留管理局"), tx) == "東京出入国在留管理局　御中"
    assert addressee_line(CaseInfo(bureau="東京出入国在留管理局 御中"), tx) == "東京出入国在留管理局 御中"


def test_sender_defaults_to_the_applicant(tmp_path: Path) -> None:
    case = CaseInfo(applicant=Applicant(name="NGUYEN VAN AN"))
    text = _text(render_cover_sheet(case, MAILED, None, None, DAY), tmp_path)
    assert text.count("NGUYEN VAN AN") >= 2  # sender and applicant
    assert "〇〇出入国在留管理局" in text


def test_a_typical_cover_fits_one_page() -> None:
    with pikepdf.open(io.BytesIO(render_cover_sheet(CASE, MAILED, None, None, DAY))) as pdf:
        assert len(pdf.pages) == 1


def test_every_font_embedded_and_bytes_deterministic(tmp_path: Path) -> None:
    a = render_cover_sheet(CASE, MAILED, RECEIPT, dt.date(2026, 2, 5), DAY)
    assert a == render_cover_sheet(CASE, MAILED, RECEIPT, dt.date(2026, 2, 5), DAY)
    path = tmp_path / "c.pdf"
    path.write_bytes(a)
    rows = subprocess.run(["pdffonts", str(path)], capture_output=True, text=True, check=True).stdout.splitlines()[2:]
    assert rows and all(r.split()[-5] == "yes" for r in rows), rows
    with pikepdf.open(io.BytesIO(a)) as pdf:
        assert len(pdf.pages) == 1

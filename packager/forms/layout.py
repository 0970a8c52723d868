"""The page furniture the declaration and the cover sheet share: A4, type, ruled tables.

One set of styles (Gothic for titles and labels, Mincho for text; Japanese first, the
English beneath it in smaller grey type), one ruled-table look, vector check boxes (the
IPAex fonts have no ☐/☑ glyphs), and one `build_pdf` that writes deterministic bytes
with every font embedded.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape

from reportlab.graphics.barcode import qrencoder
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER, TA_LEFT, TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import BaseDocTemplate, Flowable, Frame, PageTemplate, Paragraph, Spacer, Table, TableStyle

from packager.forms.fonts import GOTHIC, MINCHO, register_fonts
from packager.forms.texts import CommonTexts
from packager.model import CaseInfo, DocumentSummary

PAGE_WIDTH, PAGE_HEIGHT = A4
MARGIN_X = 20 * mm
MARGIN_TOP = 18 * mm
MARGIN_BOTTOM = 20 * mm
CONTENT_WIDTH = PAGE_WIDTH - 2 * MARGIN_X

GRID = colors.Color(0.25, 0.25, 0.25)
HEADER_FILL = colors.Color(0.92, 0.92, 0.92)
EN_GREY = colors.Color(0.3, 0.3, 0.3)
# Table draws even an empty string cell with its own default font, Helvetica, which then
# sits unembedded in the PDF: every table names the embedded font instead.
FONT_COMMAND = ("FONT", (0, 0), (-1, -1), MINCHO, 9)


@dataclass(frozen=True)
class Styles:
    title: ParagraphStyle
    subtitle: ParagraphStyle
    heading: ParagraphStyle
    heading_en: ParagraphStyle
    body: ParagraphStyle
    body_en: ParagraphStyle
    cell: ParagraphStyle
    cell_en: ParagraphStyle
    cell_right: ParagraphStyle
    cell_centre: ParagraphStyle
    label: ParagraphStyle
    label_en: ParagraphStyle
    small: ParagraphStyle
    small_right: ParagraphStyle
    addressee: ParagraphStyle
    large: ParagraphStyle


def make_styles() -> Styles:
    register_fonts()

    def style(name: str, font: str, size: float, leading: float, **kw: Any) -> ParagraphStyle:
        # wordWrap="CJK" lets Japanese wrap between any two characters; English keeps word wrap.
        return ParagraphStyle(name, fontName=font, fontSize=size, leading=leading, **kw)

    cjk = {"wordWrap": "CJK"}
    return Styles(
        title=style("title", GOTHIC, 17, 22, alignment=TA_CENTER, **cjk),
        subtitle=style("subtitle", MINCHO, 10, 13, alignment=TA_CENTER, textColor=EN_GREY),
        heading=style("heading", GOTHIC, 10.5, 14, **cjk),
        heading_en=style("heading_en", MINCHO, 8, 10, textColor=EN_GREY),
        body=style("body", MINCHO, 10, 15, **cjk),
        body_en=style("body_en", MINCHO, 8, 10.5, textColor=EN_GREY),
        cell=style("cell", MINCHO, 9.5, 12.5, **cjk),
        cell_en=style("cell_en", MINCHO, 7.5, 9.5, textColor=EN_GREY),
        cell_right=style("cell_right", MINCHO, 9.5, 12.5, alignment=TA_RIGHT),
        cell_centre=style("cell_centre", MINCHO, 9.5, 12.5, alignment=TA_CENTER),
        label=style("label", GOTHIC, 9, 12, **cjk),
        label_en=style("label_en", MINCHO, 7, 9, textColor=EN_GREY),
        small=style("small", MINCHO, 8, 10, textColor=EN_GREY, alignment=TA_LEFT),
        small_right=style("small_right", MINCHO, 8, 10, textColor=EN_GREY, alignment=TA_RIGHT),
        addressee=style("addressee", MINCHO, 12, 16, **cjk),
        large=style("large", GOTHIC, 20, 26, **cjk),
    )


def para(text: str, style: ParagraphStyle) -> Paragraph:
    """A paragraph of plain text (escaped: names and file names may hold '<' or '&')."""
    return Paragraph(escape(text), style)


def pair(ja: str, en: str, ja_style: ParagraphStyle, en_style: ParagraphStyle) -> list[Flowable]:
    """Japanese above, English below; the English omitted when it repeats the Japanese."""
    out: list[Flowable] = [para(ja, ja_style)]
    if en and en != ja:
        out.append(para(en, en_style))
    return out


def heading(ja: str, en: str, st: Styles) -> list[Flowable]:
    """A section heading: Japanese in Gothic, English beneath, a little space before the body."""
    ja_para, en_para = para(ja, st.heading), para(en, st.heading_en)
    ja_para.keepWithNext = en_para.keepWithNext = True
    return [ja_para, en_para, Spacer(1, 1.5 * mm)]


class CheckBox(Flowable):
    """A drawn ☐ / ☑ (the embedded fonts have no ballot-box glyphs)."""

    def __init__(self, checked: bool, size: float = 4 * mm) -> None:
        super().__init__()
        self.checked = checked
        self.size = size
        self.width = self.height = size

    def draw(self) -> None:
        c = self.canv
        s = self.size
        c.setLineWidth(0.8)
        c.setStrokeColor(colors.black)
        c.rect(0, 0, s, s, stroke=1, fill=0)
        if self.checked:
            c.setLineWidth(1.4)
            path = c.beginPath()
            path.moveTo(0.18 * s, 0.52 * s)
            path.lineTo(0.42 * s, 0.22 * s)
            path.lineTo(0.86 * s, 0.86 * s)
            c.drawPath(path, stroke=1, fill=0)


class TextLine(Flowable):
    """One line of text drawn as given: Paragraph would collapse the ideographic spaces
    of a fill-in date such as '　　　　年　　月　　日'."""

    def __init__(self, text: str, font: str, size: float) -> None:
        super().__init__()
        self.text = text
        self.font = font
        self.size = size
        self.width = pdfmetrics.stringWidth(text, font, size)
        self.height = size * 1.3

    def draw(self) -> None:
        self.canv.setFont(self.font, self.size)
        self.canv.drawString(0, self.size * 0.3, self.text)


class Rule(Flowable):
    """A horizontal line to write on (signature, a receipt number still unknown)."""

    def __init__(self, width: float, height: float = 7 * mm) -> None:
        super().__init__()
        self.width = width
        self.height = height

    def draw(self) -> None:
        self.canv.setLineWidth(0.6)
        self.canv.line(0, 1, self.width, 1)


class QrCode(Flowable):
    """A QR code of `value`, drawn as filled rectangles with a 4-module quiet zone.

    Drawn directly (not as a reportlab Drawing): the graphics renderer sets its default
    font, Helvetica, which would then sit unembedded in the PDF.
    """

    def __init__(self, value: str, size: float) -> None:
        super().__init__()
        self.value = value
        self.width = self.height = size
        qr = qrencoder.QRCode(None, qrencoder.QRErrorCorrectLevel.M)
        if value.isascii():
            qr.addData(value)
        else:
            # Without the ECI header readers guess the byte encoding, and Japanese-locale
            # readers guess Shift_JIS: 福オン… would scan as mojibake. ECI 26 = UTF-8.
            qr.addData(qrencoder.QRECI(26))
            qr.addData(qrencoder.QR8bitByte(value))
        qr.make()
        self.modules: list[list[bool]] = [[bool(m) for m in row] for row in qr.modules]

    def draw(self) -> None:
        count = len(self.modules)
        border = 4
        box = self.width / (count + 2 * border)
        c = self.canv
        c.setFillColor(colors.black)
        for r, row in enumerate(self.modules):
            y = self.height - (r + border + 1) * box
            c_start = None
            for col, dark in enumerate([*row, False]):
                if dark and c_start is None:
                    c_start = col
                elif not dark and c_start is not None:
                    c.rect((c_start + border) * box, y, (col - c_start) * box, box, stroke=0, fill=1)
                    c_start = None


def ruled_table(
    rows: Sequence[Sequence[Any]],
    col_widths: Sequence[float],
    *,
    header_rows: int = 1,
    total_row: bool = False,
    extra: Sequence[tuple[Any, ...]] = (),
) -> Table:
    """A fully ruled table; header rows shaded and repeated on a new page."""
    table = Table([list(r) for r in rows], colWidths=list(col_widths), repeatRows=header_rows)
    commands: list[tuple[Any, ...]] = [
        FONT_COMMAND,
        ("GRID", (0, 0), (-1, -1), 0.5, GRID),
        ("BOX", (0, 0), (-1, -1), 1.0, colors.black),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("TOPPADDING", (0, 0), (-1, -1), 2),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
        ("LEFTPADDING", (0, 0), (-1, -1), 4),
        ("RIGHTPADDING", (0, 0), (-1, -1), 4),
    ]
    if header_rows:
        commands.append(("BACKGROUND", (0, 0), (-1, header_rows - 1), HEADER_FILL))
    if total_row:
        commands.append(("LINEABOVE", (0, -1), (-1, -1), 1.0, colors.black))
    commands.extend(extra)
    table.setStyle(TableStyle(commands))
    return table


def format_iso_date(value: str, common: CommonTexts) -> tuple[str, str]:
    """A case.toml date as (Japanese, English) text; text that is no ISO date as written."""
    try:
        day = dt.date.fromisoformat(value)
    except ValueError:
        return value, ""
    return common.date_ja(day), common.date_en(day)


def case_table(case: CaseInfo, common: CommonTexts, st: Styles) -> Table:
    """Applicant (name, nationality, birth date, card number) and application (type, status)."""
    lab = common.labels
    birth_ja, birth_en = format_iso_date(case.applicant.birth_date, common)

    def value(ja: str, en: str = "") -> list[Flowable]:
        return pair(ja, en, st.cell, st.cell_en) if ja else [para("", st.cell)]

    def label(ja: str, en: str) -> list[Flowable]:
        return pair(ja, en, st.label, st.label_en)

    rows: list[list[Any]] = [
        [label(lab.applicant_ja, lab.applicant_en), label(lab.name_ja, lab.name_en), value(case.applicant.name)],
        ["", label(lab.nationality_ja, lab.nationality_en), value(case.applicant.nationality)],
        ["", label(lab.birth_date_ja, lab.birth_date_en), value(birth_ja, birth_en)],
        ["", label(lab.residence_card_ja, lab.residence_card_en), value(case.applicant.residence_card_number)],
    ]
    applicant_rows = len(rows)
    app = common.application_name(case.application) if case.application else None
    status = common.status_name(case.status) if case.status else None
    rows.append(
        [
            label(lab.application_heading_ja, lab.application_heading_en),
            label(lab.application_ja, lab.application_en),
            value(app.ja, app.en) if app else value(""),
        ]
    )
    rows.append(["", label(lab.status_ja, lab.status_en), value(status.ja, status.en) if status else value("")])
    if case.current_status and case.current_status != case.status:
        current = common.status_name(case.current_status)
        rows.append(["", label(lab.current_status_ja, lab.current_status_en), value(current.ja, current.en)])
    widths = (26 * mm, 46 * mm, CONTENT_WIDTH - 72 * mm)
    extra = [
        ("SPAN", (0, 0), (0, applicant_rows - 1)),
        ("SPAN", (0, applicant_rows), (0, len(rows) - 1)),
        ("BACKGROUND", (0, 0), (1, -1), HEADER_FILL),
        ("LINEABOVE", (0, applicant_rows), (-1, applicant_rows), 1.0, colors.black),
    ]
    return ruled_table(rows, widths, header_rows=0, extra=extra)


def document_table(
    docs: Sequence[DocumentSummary], common: CommonTexts, st: Styles, *, with_file: bool
) -> Table:
    """Numbered documents (Japanese and English name, file, pages) with a total row."""
    lab = common.labels

    def head(ja: str, en: str) -> list[Flowable]:
        return pair(ja, en, st.label, st.label_en)

    header: list[Any] = [head(lab.number_ja, lab.number_en), head(lab.document_ja, lab.document_en)]
    if with_file:
        header.append(head(lab.file_ja, lab.file_en))
    header.append(head(lab.pages_ja, lab.pages_en))
    rows: list[list[Any]] = [header]
    for i, doc in enumerate(docs, start=1):
        row: list[Any] = [para(str(i), st.cell_centre), pair(doc.name_ja or doc.key, doc.name_en, st.cell, st.cell_en)]
        if with_file:
            row.append(para(doc.file_name, st.cell_en))
        row.append(para(str(doc.pages), st.cell_right))
        rows.append(row)
    if not docs:
        none_row: list[Any] = ["", pair(lab.none_ja, lab.none_en, st.cell, st.cell_en)]
        if with_file:
            none_row.append("")
        none_row.append(para("0", st.cell_right))
        rows.append(none_row)
    last_label_col = 2 if with_file else 1
    total: list[Any] = [pair(lab.total_ja, lab.total_en, st.label, st.label_en)]
    total += [""] * last_label_col
    total.append(para(str(sum(d.pages for d in docs)), st.cell_right))
    rows.append(total)
    if with_file:
        widths: tuple[float, ...] = (12 * mm, CONTENT_WIDTH - 12 * mm - 52 * mm - 18 * mm, 52 * mm, 18 * mm)
    else:
        widths = (12 * mm, CONTENT_WIDTH - 12 * mm - 18 * mm, 18 * mm)
    extra = [
        ("SPAN", (0, -1), (last_label_col, -1)),
        ("ALIGN", (0, -1), (last_label_col, -1), "RIGHT"),
        ("BACKGROUND", (0, -1), (-1, -1), HEADER_FILL),
    ]
    return ruled_table(rows, widths, header_rows=1, total_row=True, extra=extra)


def two_columns(left: list[Flowable], right: list[Flowable]) -> Table:
    """Two halves of the text width without rules (form label | date, addressee | sender)."""
    table = Table([[left, right]], colWidths=[CONTENT_WIDTH / 2, CONTENT_WIDTH / 2])
    table.setStyle(
        TableStyle(
            [
                FONT_COMMAND,
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LEFTPADDING", (0, 0), (-1, -1), 0),
                ("RIGHTPADDING", (0, 0), (-1, -1), 0),
            ]
        )
    )
    return table


def label_value_block(rows: Sequence[tuple[list[Flowable], list[Flowable]]], width: float = 130 * mm) -> Table:
    """Label and value (or a line to write on) per row, without rules, on the right."""
    table = Table([[label, value] for label, value in rows], colWidths=[30 * mm, width - 30 * mm], hAlign="RIGHT")
    table.setStyle(
        TableStyle(
            [
                FONT_COMMAND,
                ("VALIGN", (0, 0), (-1, -1), "BOTTOM"),
                ("TOPPADDING", (0, 0), (-1, -1), 4),
                ("LEFTPADDING", (0, 0), (-1, -1), 0),
            ]
        )
    )
    return table


class _NumberedCanvas(Canvas):
    """Defers each page so the footer can say 'page i / n' (n known only at the end)."""

    footer_left = ""
    page_of = "{page} / {pages}"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._saved_pages: list[dict[str, Any]] = []

    def showPage(self) -> None:
        self._saved_pages.append(dict(self.__dict__))
        self._startPage()

    def save(self) -> None:
        pages = len(self._saved_pages)
        for number, state in enumerate(self._saved_pages, start=1):
            self.__dict__.update(state)
            self._draw_footer(number, pages)
            super().showPage()
        super().save()

    def _draw_footer(self, page: int, pages: int) -> None:
        self.saveState()
        self.setFont(MINCHO, 7.5)
        self.setFillColor(EN_GREY)
        y = MARGIN_BOTTOM - 9 * mm
        self.drawString(MARGIN_X, y, self.footer_left)
        self.drawRightString(PAGE_WIDTH - MARGIN_X, y, self.page_of.format(page=page, pages=pages))
        self.restoreState()


def build_pdf(story: list[Flowable], *, title: str, footer: str, page_of: str) -> bytes:
    """Lay out `story` on A4 and return the PDF: fonts embedded, bytes reproducible."""
    register_fonts()
    buf = io.BytesIO()
    doc = BaseDocTemplate(
        buf,
        pagesize=A4,
        leftMargin=MARGIN_X,
        rightMargin=MARGIN_X,
        topMargin=MARGIN_TOP,
        bottomMargin=MARGIN_BOTTOM,
        title=title,
        author="",
        subject="",
        creator="packager",
        producer="packager",
        invariant=1,  # fixed creation date and document ID: same input, same bytes
        initialFontName=MINCHO,  # or every page's preamble names Helvetica
        initialFontSize=10,
        pageCompression=1,
    )
    frame = Frame(MARGIN_X, MARGIN_BOTTOM, CONTENT_WIDTH, PAGE_HEIGHT - MARGIN_TOP - MARGIN_BOTTOM, id="body",
                  leftPadding=0, rightPadding=0, topPadding=0, bottomPadding=0)
    doc.addPageTemplates([PageTemplate(id="a4", frames=[frame])])
    canvas_class = type("FormCanvas", (_NumberedCanvas,), {"footer_left": footer, "page_of": page_of})
    doc.build(story, canvasmaker=canvas_class)
    return buf.getvalue()

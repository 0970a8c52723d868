"""送付状: the cover sheet on top of the documents mailed after online filing.

Before the receipt number (申請受付番号) is known the sheet carries a visible line to
write it on; `packager stamp` regenerates it with the number in large type and as a QR
code, so the bureau can match the envelope to the online application. Texts come from
profiles/forms/cover.toml and common.toml.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

from reportlab.lib import colors
from reportlab.lib.units import mm
from reportlab.platypus import CondPageBreak, Flowable, KeepTogether, Spacer, Table, TableStyle

from packager.forms.fonts import MINCHO
from packager.forms.layout import (
    CONTENT_WIDTH,
    FONT_COMMAND,
    QrCode,
    Rule,
    Styles,
    TextLine,
    build_pdf,
    case_table,
    document_table,
    heading,
    make_styles,
    pair,
    para,
    two_columns,
)
from packager.forms.texts import CommonTexts, CoverTexts, load_common, load_cover
from packager.model import CaseInfo, DocumentSummary

QR_SIZE = 30 * mm


def addressee_line(case: CaseInfo, tx: CoverTexts) -> str:
    """The bureau with its honorific (御中), or the profile's fill-in placeholder."""
    bureau = case.bureau.strip()
    if not bureau:
        return tx.addressee_default
    return bureau if bureau.endswith(tx.honorific) else f"{bureau}　{tx.honorific}"


def render_cover_sheet(
    case: CaseInfo,
    mailed: Sequence[DocumentSummary],
    receipt: str | None,
    filing_date: dt.date | None,
    on_date: dt.date,
    *,
    texts_dir: Path | None = None,
) -> bytes:
    """The cover sheet as an A4 PDF (bytes). `receipt` None leaves a line to write it on."""
    common = load_common(texts_dir)
    tx = load_cover(texts_dir)
    st = make_styles()
    story: list[Flowable] = []

    sender = case.sender.strip() or case.applicant.name
    story.append(
        two_columns(
            [para(addressee_line(case, tx), st.addressee)],
            [para(common.date_ja(on_date), st.cell_right), para(common.date_en(on_date), st.small_right)],
        )
    )
    story += [Spacer(1, 2 * mm), _sender_block(tx, sender, st)]
    story += [Spacer(1, 5 * mm), para(tx.title_ja, st.title), Spacer(1, 1 * mm), para(tx.title_en, st.subtitle)]
    story += [Spacer(1, 5 * mm), *pair(tx.greeting_ja, tx.greeting_en, st.body, st.body_en)]
    story += [Spacer(1, 3 * mm), para(tx.ki, st.cell_centre), Spacer(1, 3 * mm)]
    story.append(_receipt_box(tx, common, receipt, filing_date, st))
    story += [Spacer(1, 4 * mm), case_table(case, common, st)]
    table = document_table(mailed, common, st, with_file=False)
    closing = [Spacer(1, 3 * mm), para(tx.ijou, st.cell_right)]
    story += [Spacer(1, 4 * mm), CondPageBreak(40 * mm), *heading(tx.enclosed_heading_ja, tx.enclosed_heading_en, st)]
    story += [table, KeepTogether(closing)]
    title = f"{tx.title_ja}  {tx.title_en}"
    footer = f"{title}  {receipt}" if receipt else title
    return build_pdf(story, title=title, footer=footer, page_of=common.labels.page_of)


def _sender_block(tx: CoverTexts, sender: str, st: Styles) -> Table:
    label = pair(tx.sender_label_ja, tx.sender_label_en, st.label, st.label_en)
    table = Table([[label, para(sender, st.cell) if sender else Rule(60 * mm)]], colWidths=[22 * mm, 68 * mm],
                  hAlign="RIGHT")
    table.setStyle(
        TableStyle([FONT_COMMAND, ("VALIGN", (0, 0), (-1, -1), "MIDDLE"), ("LEFTPADDING", (0, 0), (-1, -1), 0)])
    )
    return table


def _receipt_box(
    tx: CoverTexts, common: CommonTexts, receipt: str | None, filing_date: dt.date | None, st: Styles
) -> Table:
    """The receipt number (large, with its QR code) and the filing date, in one framed box."""
    label = pair(tx.receipt_label_ja, tx.receipt_label_en, st.label, st.label_en)
    date_label = pair(tx.filing_date_label_ja, tx.filing_date_label_en, st.label, st.label_en)
    value_width = CONTENT_WIDTH - 44 * mm - (QR_SIZE + 6 * mm)
    if receipt:
        number: list[Flowable] = [para(receipt, st.large)]
    else:
        number = [Rule(value_width - 6 * mm, 11 * mm), *pair(tx.receipt_blank_note_ja, tx.receipt_blank_note_en,
                                                              st.cell_en, st.cell_en)]
    if filing_date:
        date_value: list[Flowable] = [para(common.date_ja(filing_date), st.cell),
                                      para(common.date_en(filing_date), st.cell_en)]
    else:
        date_value = [TextLine(common.date_blank_ja, MINCHO, st.cell.fontSize)]
    qr: Flowable | str = QrCode(receipt, QR_SIZE) if receipt else ""
    rows = [[label, number, qr], [date_label, date_value, ""]]
    table = Table(rows, colWidths=[44 * mm, value_width, QR_SIZE + 6 * mm])
    table.setStyle(
        TableStyle(
            [
                FONT_COMMAND,
                ("BOX", (0, 0), (-1, -1), 1.5, colors.black),
                # Under the number only: the QR code (when there is one) spans both rows.
                ("LINEBELOW", (0, 0), (1 if receipt else -1, 0), 0.5, colors.grey),
                ("SPAN", (2, 0), (2, 1)),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                ("ALIGN", (2, 0), (2, 1), "CENTER"),
                ("LEFTPADDING", (0, 0), (-1, -1), 3 * mm),
                ("TOPPADDING", (0, 0), (-1, -1), 2 * mm),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 2 * mm),
            ]
        )
    )
    return table

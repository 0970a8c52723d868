"""資料添付に係る申告書 (Declaration Regarding Attached Documents), uploaded when some
documents of the case are mailed.

Modelled on the ISA's 参考様式9 of the old online system: the box "the attached data
exceeds the system's limit; the remaining documents are submitted by mail" ticked, the
box "attached again on request" left empty, the documents attached online and those
mailed with their page counts, the statement that nothing is omitted, date and signature.
Every text comes from profiles/forms/declaration.toml and common.toml.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

from reportlab.lib.units import mm
from reportlab.platypus import CondPageBreak, Flowable, KeepTogether, Spacer, Table, TableStyle

from packager.forms.layout import (
    CONTENT_WIDTH,
    FONT_COMMAND,
    CheckBox,
    Rule,
    build_pdf,
    case_table,
    document_table,
    heading,
    label_value_block,
    make_styles,
    pair,
    para,
    two_columns,
)
from packager.forms.texts import load_common, load_declaration
from packager.model import CaseInfo, DocumentSummary


def render_declaration(
    case: CaseInfo,
    uploaded: Sequence[DocumentSummary],
    mailed: Sequence[DocumentSummary],
    on_date: dt.date,
    *,
    texts_dir: Path | None = None,
) -> bytes:
    """The declaration as an A4 PDF (bytes); `texts_dir` replaces profiles/forms for tests."""
    common = load_common(texts_dir)
    tx = load_declaration(texts_dir)
    st = make_styles()
    story: list[Flowable] = []

    story.append(
        two_columns(
            pair(tx.form_label_ja, tx.form_label_en, st.small, st.small),
            [para(common.date_ja(on_date), st.cell_right), para(common.date_en(on_date), st.small_right)],
        )
    )
    story += [Spacer(1, 5 * mm), para(tx.title_ja, st.title), Spacer(1, 1 * mm), para(tx.title_en, st.subtitle)]
    story += [Spacer(1, 7 * mm), *pair(tx.addressee_ja, tx.addressee_en, st.addressee, st.body_en)]
    story += [Spacer(1, 4 * mm), *pair(tx.intro_ja, tx.intro_en, st.body, st.body_en), Spacer(1, 3 * mm)]
    story.append(case_table(case, common, st))

    story += [Spacer(1, 5 * mm), *heading(tx.declaration_heading_ja, tx.declaration_heading_en, st)]
    # (the boxes follow the heading directly; Paragraph.keepWithNext keeps them together)
    boxes = Table(
        [
            [CheckBox(True), pair(tx.box_mail_ja, tx.box_mail_en, st.cell, st.cell_en)],
            [CheckBox(False), pair(tx.box_reattach_ja, tx.box_reattach_en, st.cell, st.cell_en)],
        ],
        colWidths=[10 * mm, CONTENT_WIDTH - 10 * mm],
    )
    boxes.setStyle(
        TableStyle(
            [
                FONT_COMMAND,
                ("BOX", (0, 0), (-1, -1), 1.0, "black"),
                ("LINEBELOW", (0, 0), (-1, 0), 0.5, "grey"),
                ("VALIGN", (0, 0), (0, -1), "TOP"),
                ("VALIGN", (1, 0), (1, -1), "MIDDLE"),
                ("LEFTPADDING", (0, 0), (0, -1), 3 * mm),
                ("TOPPADDING", (0, 0), (-1, -1), 4),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 5),
            ]
        )
    )
    story.append(boxes)

    for heading_ja, heading_en, docs in (
        (tx.uploaded_heading_ja, tx.uploaded_heading_en, uploaded),
        (tx.mailed_heading_ja, tx.mailed_heading_en, mailed),
    ):
        # A heading never ends a page: start a new one unless the heading and a few rows fit;
        # the table itself may split (its header row repeats).
        story += [Spacer(1, 5 * mm), CondPageBreak(45 * mm), *heading(heading_ja, heading_en, st)]
        story.append(document_table(docs, common, st, with_file=True))

    signature = [
        Spacer(1, 5 * mm),
        *pair(tx.statement_ja, tx.statement_en, st.body, st.body_en),
        Spacer(1, 6 * mm),
        label_value_block(
            [
                (pair(tx.date_label_ja, tx.date_label_en, st.label, st.label_en),
                 [para(common.date_ja(on_date), st.cell), para(common.date_en(on_date), st.cell_en)]),
                (pair(tx.signature_label_ja, tx.signature_label_en, st.label, st.label_en), [Rule(100 * mm, 12 * mm)]),
                ([], pair(tx.signature_note_ja, tx.signature_note_en, st.cell_en, st.cell_en)),
            ]
        ),
    ]
    story.append(KeepTogether(signature))
    title = f"{tx.title_ja}  {tx.title_en}"
    return build_pdf(story, title=title, footer=title, page_of=common.labels.page_of)

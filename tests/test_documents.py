"""documents: inputs grouped into documents, in the checklist's order when there is one."""

from __future__ import annotations

from pathlib import Path

from packager import documents
from packager.checklist import checklist_for
from packager.model import InputFile, PageAnalysis, PageClass, SourcePage
from packager.profiles import load_kinds


def _input(path: str, kind: str, document: str) -> InputFile:
    return InputFile(path, Path("/x") / path, "0" * 64, 1, "pdf", 1, kind, document)


def _analysis(inp: InputFile) -> PageAnalysis:
    page = SourcePage(inp, 0, 100, 100, 8.27, 11.69, 300.0, False)
    return PageAnalysis(page, PageClass("grey", 0.1, 0.0, 0.1), (), inp.path)


def test_checklist_order_and_numbered_file_names() -> None:
    kinds = load_kinds()
    inputs = [
        _input("bank.pdf", "bank-statement", "bank-statement"),
        _input("pp.pdf", "passport", "passport"),
        _input("pp-2.pdf", "passport", "passport"),
        _input("letter.pdf", "other", "other-letter"),
        _input("broken.pdf", "diploma", "diploma"),  # no analysed pages: not a document
    ]
    analyses = {i.path: [_analysis(i)] for i in inputs if i.path != "broken.pdf"}
    order = documents.order_kinds(kinds, checklist_for("extension", "student"))
    docs = documents.group_documents(inputs, analyses, kinds, order)
    assert docs[0].key == "passport" and "diploma" not in [d.key for d in docs]
    assert [i.path for i in docs[0].inputs] == ["pp.pdf", "pp-2.pdf"] and len(docs[0].pages) == 2
    other = next(d for d in docs if d.key == "other-letter")
    assert other.title.endswith(" letter")
    names = documents.file_names(docs)
    assert names["passport"] == "01-passport.pdf" and len(set(names.values())) == len(docs)

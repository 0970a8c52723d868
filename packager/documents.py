"""Documents: the analysed pages of a case grouped into documents, in checklist order.

A document is every input with the same document key (a kind, or other-<stem>), its pages
in input order. The order and the mail priority come from the application's checklist
when case.toml names one, else from profiles/kinds.toml.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from packager.checklist import Checklist
from packager.model import Document, DocumentKind, InputFile, PageAnalysis

# (checklist position, mail priority) per kind key
Ordering = dict[str, tuple[int, int]]


def order_kinds(kinds: Mapping[str, DocumentKind], checklist: Checklist | None) -> Ordering:
    """(checklist position, mail priority) per kind: the application's checklist, else kinds.toml."""
    order = {k: (v.order, v.mail_priority) for k, v in kinds.items()}
    if checklist is not None:
        for entry in checklist.entries:
            order[entry.kind] = (entry.order, entry.mail_priority)
    return order


def document_title(kind: DocumentKind, key: str, inputs: Sequence[InputFile]) -> str:
    if key.startswith("other-") and inputs:
        return f"{kind.name_ja} {Path(inputs[0].path).stem}"
    return f"{kind.name_ja} {kind.name_en}"


def group_documents(
    inputs: Sequence[InputFile],
    analyses: Mapping[str, Sequence[PageAnalysis]],
    kinds: Mapping[str, DocumentKind],
    ordering: Ordering,
) -> list[Document]:
    """The documents of the inputs that have analysed pages, sorted by checklist order."""
    by_doc: dict[str, list[InputFile]] = {}
    for inp in inputs:
        if inp.path in analyses:
            by_doc.setdefault(inp.document, []).append(inp)
    docs = []
    for key, doc_inputs in by_doc.items():
        base = kinds.get(doc_inputs[0].kind, kinds["other"])
        order, priority = ordering.get(base.key, (base.order, base.mail_priority))
        kind = DocumentKind(base.key, base.name_ja, base.name_en, order, priority, base.colour, base.aliases)
        page_list = tuple(p for inp in doc_inputs for p in analyses[inp.path])
        title = document_title(kind, key, doc_inputs)
        docs.append(Document(key=key, kind=kind, title=title, inputs=tuple(doc_inputs), pages=page_list))
    docs.sort(key=lambda d: (d.kind.order, d.key))
    return docs


def file_names(documents: Sequence[Document]) -> dict[str, str]:
    """Output file name per document key: `03-passport.pdf`, numbered in checklist order."""
    return {d.key: f"{i:02d}-{d.key}.pdf" for i, d in enumerate(documents, 1)}

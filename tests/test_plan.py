"""plan: fit the budget with the best uniform level, spend the rest, mail lowest priority first."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from packager.errors import DoesNotFit
from packager.model import (
    Candidate,
    Document,
    DocumentKind,
    Encoding,
    InputFile,
    PageAnalysis,
    PageClass,
    SourcePage,
)
from packager.plan import Budget, fits_without_mail, levels_of, plan_budget

INPUT = InputFile("x.pdf", Path("/nonexistent/x.pdf"), "0" * 64, 1, "pdf", 1, "other", "other")


def _page(sizes: list[int], original: int | None = None) -> PageAnalysis:
    src = SourcePage(INPUT, 0, 2480, 3508, 8.27, 11.69, 300.0, False)
    cands = []
    if original is not None:
        cands.append(Candidate(Encoding("original"), original, 300.0, 2480, 3508, spool_index=0))
    for i, size in enumerate(sizes, 1):
        cands.append(Candidate(Encoding("jpeg-grey", 300, 90 - 10 * i), size, 300.0, 2480, 3508, spool_index=i))
    return PageAnalysis(src, PageClass("grey", 0.1, 0.0, 0.1), tuple(cands), spool_key="k")


def _doc(key: str, priority: int, pages: list[PageAnalysis]) -> Document:
    kind = DocumentKind(key, key, key, 10, priority, False)
    return Document(key=key, kind=kind, title=key, inputs=(INPUT,), pages=tuple(pages))


def _budget(limit: int, reserve: int = 0) -> Budget:
    return Budget(limit, fixed_bytes=0, declaration_reserve_bytes=reserve, per_file_overhead_bytes=0, single_file=False)


def _names(docs: list[Document]) -> dict[str, str]:
    return {d.key: f"{i:02d}-{d.key}.pdf" for i, d in enumerate(docs, 1)}


def test_levels_align_rungs_and_a_missing_top_rung_takes_the_next_below() -> None:
    page = _page([500, 300], original=400)
    # rung 1 (500) was larger than the original in real life and would not be there; here it is
    assert levels_of(page) == [0, 1, 2]
    dropped = PageAnalysis(page.page, page.page_class, (page.candidates[0], page.candidates[2]), "k")
    assert levels_of(dropped) == [0, 1, 1]  # level 1 is rung 2, not the original kept at every level
    only_original = PageAnalysis(page.page, page.page_class, (page.candidates[0],), "k")
    assert levels_of(only_original) == [0]


def test_everything_fits_at_the_best_level() -> None:
    docs = [_doc("a", 50, [_page([100, 50]), _page([100, 50])])]
    plan = plan_budget(docs, _budget(1000), _names(docs))
    assert plan.level == 0 and plan.documents[0].choice == (0, 0) and not plan.mailed


def test_uniform_level_then_leftover_upgrades_cheapest_first() -> None:
    docs = [_doc("a", 50, [_page([300, 100, 50]), _page([120, 100, 50])])]
    plan = plan_budget(docs, _budget(230), _names(docs))
    # rung 2 (200 bytes) fits, rung 1 (420) does not; 30 bytes left buy page 2's 20-byte upgrade.
    # Levels count ladder rungs (level 0 = the original, absent here, so levels 0 and 1 = rung 1).
    assert plan.level == 2
    assert plan.documents[0].choice == (1, 0)


def test_lowest_mail_priority_is_mailed_first() -> None:
    docs = [
        _doc("passport", 90, [_page([400, 300])]),
        _doc("financial-statements", 10, [_page([900, 800])]),
        _doc("brochure", 15, [_page([500, 450])]),
    ]
    plan = plan_budget(docs, _budget(1000, reserve=50), _names(docs))
    assert [d.document.key for d in plan.mailed] == ["financial-statements"]
    assert "lowest mail priority" in plan.mailed[0].reason
    assert plan.reserved_bytes == 50


def test_does_not_fit_even_empty() -> None:
    docs = [_doc("a", 50, [_page([100])])]
    with pytest.raises(DoesNotFit):
        plan_budget(docs, Budget(10, 20, 0, 0, False), _names(docs))


sizes = st.lists(st.integers(1, 5000), min_size=1, max_size=6).map(lambda xs: sorted(xs, reverse=True))


@settings(max_examples=200, deadline=None)
@given(
    pages=st.lists(
        st.tuples(sizes, st.one_of(st.none(), st.integers(1, 8000)), st.integers(0, 3)), min_size=1, max_size=12
    ),
    limit=st.integers(1, 40000),
)
def test_plan_always_fits_or_mails(pages: list[tuple[list[int], int | None, int]], limit: int) -> None:
    docs: list[Document] = []
    for i in range(4):
        group = [_page(s, o) for s, o, d in pages if d == i]
        if group:
            docs.append(_doc(f"d{i}", 10 * i, group))
    budget = _budget(limit, reserve=100)
    try:
        plan = plan_budget(docs, budget, _names(docs))
    except DoesNotFit:
        return
    total = sum(
        p.candidates[c].bytes_ for d in plan.uploaded for p, c in zip(d.document.pages, d.choice, strict=True)
    )
    assert total <= plan.budget_bytes
    assert plan.budget_bytes <= limit - (100 if plan.mailed else 0)
    if not plan.mailed:
        assert fits_without_mail(docs, budget)
    # mailed documents were mailed in mail-priority order
    priorities = [d.document.kind.mail_priority for d in plan.mailed]
    assert priorities == sorted(priorities)


def test_leftover_goes_to_g4_pages_before_cheaper_upgrades() -> None:
    """A binarised page gets its grey levels back before anything else is upgraded, even a
    cheaper step: binarisation is the loss that OCR measures (four levels and q80 ≈ none)."""
    src = SourcePage(INPUT, 0, 2480, 3508, 8.27, 11.69, 300.0, False)
    text = PageAnalysis(
        src,
        PageClass("bilevel", 0.1, 0.0, 0.0),
        (
            Candidate(Encoding("original"), 400, 300.0, 2480, 3508, spool_index=0),
            Candidate(Encoding("flate-grey2", 300), 200, 300.0, 2480, 3508, spool_index=1),
            Candidate(Encoding("g4", 300), 50, 300.0, 2480, 3508, spool_index=2),
        ),
        spool_key="t",
    )
    photo = _page([120, 100, 60], original=500)
    docs = [_doc("a", 50, [text, photo])]
    plan = plan_budget(docs, _budget(300), _names(docs))
    # uniform level 2 costs 50 + 100; of the 150 left, G4 → four levels (150) goes first and
    # leaves nothing for the photo's 20-byte step.
    assert plan.level == 2
    assert plan.documents[0].choice == (1, 2)


def test_a_dropped_rung_below_a_kept_one_takes_the_level_above() -> None:
    # Rungs 2 and 3 were dropped (whole-page JPEGs no smaller than the page's MRC rendition at
    # rung 1): those levels keep rung 1, not the larger original.
    page = _page([100, 90, 80, 60], original=1000)
    kept = PageAnalysis(page.page, page.page_class, (page.candidates[0], page.candidates[1], page.candidates[4]), "k")
    assert levels_of(kept) == [0, 1, 1, 1, 2]

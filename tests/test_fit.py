"""fit: plan → write → measure → re-plan, with the declaration's room held only when mailing.

Writing and measuring are stand-ins here (the loop takes them as functions): a written file
is "the plan's bytes plus an overhead", so the loop's decisions are checked without PDFs.
"""

from __future__ import annotations

from pathlib import Path

from packager import fit, plan
from packager.model import (
    Candidate,
    Document,
    DocumentKind,
    Encoding,
    InputFile,
    PageAnalysis,
    PageClass,
    Plan,
    SourcePage,
)
from packager.result import OutputRecord


def _doc(key: str, page_bytes: list[int], priority: int) -> Document:
    inp = InputFile(f"{key}.pdf", Path(f"/x/{key}.pdf"), "0" * 64, sum(page_bytes), "pdf", 1, key, key)
    page = SourcePage(inp, 0, 2480, 3508, 8.27, 11.69, 300.0, False)
    cls = PageClass("grey", 0.1, 0.0, 0.2)
    cands = tuple(
        Candidate(Encoding("jpeg-grey", 300 - 25 * i, 80), b, 300.0 - 25 * i, 100, 100, i + 1)
        for i, b in enumerate(page_bytes)
    )
    kind = DocumentKind(key, key, key, 1, priority, False)
    return Document(key, kind, key, (inp,), (PageAnalysis(page, cls, cands, key),))


def _budget(limit: int) -> plan.Budget:
    return plan.Budget(limit, 0, 0, 0, False)


class FakeOut:
    """Writes nothing; measures the plan's chosen bytes plus `overhead` per uploaded file."""

    def __init__(self, overhead: int) -> None:
        self.overhead = overhead
        self.plans: list[Plan] = []
        self.size = 0

    def write(self, the_plan: Plan) -> tuple[OutputRecord, ...]:
        self.plans.append(the_plan)
        self.size = sum(
            a.candidates[c].bytes_ for d in the_plan.uploaded for a, c in zip(d.document.pages, d.choice, strict=True)
        ) + self.overhead * len(the_plan.uploaded)
        return ()

    def measure(self) -> int:
        return self.size


NAMES = {"a": "01-a.pdf", "b": "02-b.pdf"}


def test_fits_first_time_without_a_reserve() -> None:
    docs = [_doc("a", [400, 300], 5), _doc("b", [300, 200], 3)]
    out, reserves = FakeOut(0), []
    fitted = fit.fit_upload(docs, _budget(1000), NAMES, write=out.write, measure=out.measure,
                            declaration_reserve=lambda: reserves.append(1) or 50)
    assert fitted.fits and fitted.attempts == 1 and fitted.upload_bytes == 700
    assert reserves == [] and not fitted.plan.mailed


def test_overshoot_is_held_back_and_the_plan_made_again() -> None:
    docs = [_doc("a", [500_000, 300_000], 5), _doc("b", [400_000, 200_000], 3)]
    out = FakeOut(100_000)  # each written file is 100 kB more than its pages: the first plan overshoots
    fitted = fit.fit_upload(docs, _budget(1_000_000), NAMES, write=out.write, measure=out.measure,
                            declaration_reserve=lambda: 0)
    assert len(out.plans) == 2 and fitted.attempts == 2
    assert out.plans[1].level > out.plans[0].level == 0  # tightened by the measured overshoot
    assert fitted.fits and fitted.upload_bytes == 900_000


def test_the_declaration_is_reserved_when_something_is_mailed() -> None:
    docs = [_doc("a", [600, 500], 5), _doc("b", [600, 550], 3)]
    out = FakeOut(0)
    fitted = fit.fit_upload(docs, _budget(800), NAMES, write=out.write, measure=out.measure,
                            declaration_reserve=lambda: 100)
    assert [d.document.key for d in fitted.plan.mailed] == ["b"]
    assert fitted.plan.reserved_bytes == 100 and fitted.upload_bytes == 600


def test_attempts_run_out_and_the_last_result_stands() -> None:
    docs = [_doc("a", [500_000], 5)]
    out = FakeOut(600_000)  # never fits, however it is planned
    fitted = fit.fit_upload(docs, _budget(1_000_000), {"a": "01-a.pdf"}, write=out.write, measure=out.measure,
                            declaration_reserve=lambda: 0)
    assert not fitted.fits and fitted.attempts == fit.MAX_ATTEMPTS

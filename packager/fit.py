"""The fit loop: plan → write → measure on disk → re-plan tighter, until the upload fits.

The planner works with the exact sizes of the spooled pages, but a written PDF carries a
little more (document structure, the declaration's final size), so what decides is the
measure of OUT/upload on disk. When it is over the limit, the overshoot is held back and
the plan made again; after MAX_ATTEMPTS the last result stands (api raises DoesNotFit).

When anything is mailed, the declaration is uploaded too, so its room is reserved first: the
declaration as it would be with every document listed (its largest form), plus the profile's
margin. The loop gets how to write and measure as functions, so it is tested without PDFs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from packager import plan
from packager.model import Document, Plan
from packager.result import OutputRecord

MAX_ATTEMPTS = 4
MEASURE_SLACK_BYTES = 4096  # held back beyond an overshoot, so the next attempt lands under

WriteFn = Callable[[Plan], tuple[OutputRecord, ...]]  # write the plan's files into OUT
MeasureFn = Callable[[], int]  # the bytes of OUT/upload on disk
ReserveFn = Callable[[], int]  # bytes to hold back for the declaration


@dataclass(frozen=True)
class Fitted:
    """The last attempt of the loop: its plan, what was written, and the measured upload."""

    plan: Plan
    outputs: tuple[OutputRecord, ...]
    upload_bytes: int
    limit_bytes: int
    attempts: int

    @property
    def fits(self) -> bool:
        return self.upload_bytes <= self.limit_bytes


def fit_upload(
    documents: Sequence[Document],
    budget: plan.Budget,
    file_names: dict[str, str],
    *,
    write: WriteFn,
    measure: MeasureFn,
    declaration_reserve: ReserveFn,
) -> Fitted:
    """Plan, write and measure until OUT/upload is within budget.limit_bytes (or attempts run out)."""
    if not plan.fits_without_mail(documents, budget):
        budget = replace(budget, declaration_reserve_bytes=declaration_reserve())
    attempt = 0
    while True:
        attempt += 1
        the_plan = plan.plan_budget(documents, budget, file_names)
        if the_plan.mailed and not budget.declaration_reserve_bytes:
            # Mailing after all (a re-plan tightened by a measurement): hold the declaration's room.
            budget = replace(budget, declaration_reserve_bytes=declaration_reserve())
            the_plan = plan.plan_budget(documents, budget, file_names)
        written = write(the_plan)
        upload = measure()
        if upload <= budget.limit_bytes or attempt == MAX_ATTEMPTS:
            return Fitted(the_plan, written, upload, budget.limit_bytes, attempt)
        overshoot = upload - budget.limit_bytes
        budget = replace(budget, fixed_bytes=budget.fixed_bytes + overshoot + MEASURE_SLACK_BYTES)

"""Plan: choose one measured candidate per page so the upload fits the byte budget.

The worst page's quality is what matters (a reviewer rejects the case over one
unreadable page), so every page first takes the same ladder level — the best level at
which the whole upload fits — and the bytes left over then buy better levels for the
pages where they cost least. When even the lowest legible level does not fit, whole
documents go to the mail, lowest mail priority first: a page is mailed, not degraded.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from packager.errors import DoesNotFit
from packager.model import Document, PageAnalysis, Plan, PlannedDocument


@dataclass(frozen=True)
class Budget:
    limit_bytes: int
    fixed_bytes: int  # the photo and anything else already decided
    declaration_reserve_bytes: int  # reserved only when something is mailed
    per_file_overhead_bytes: int  # PDF structure of each uploaded file
    single_file: bool  # legacy profile: all documents in one PDF


def levels_of(page: PageAnalysis) -> list[int]:
    """Candidate index per ladder level (level 0 = best) for one page.

    Level 0 is the original where there is one, else the best rung; level i is rung i. Where
    rung i is missing, the level above's choice — unless that is still the original, then the
    next rung below. Rungs go missing when larger than the original or than the page's MRC
    rendition (the level above is then smaller, and at least as good), and MRC rungs on a page
    without text or on a phone photo: there the level must not stay the original (a 2.8 MB
    photo held at every MRC level took the bytes of 20 text pages at 10 MB).
    """
    by_spool = {c.spool_index: i for i, c in enumerate(page.candidates)}
    top = max(by_spool)
    out: list[int] = [by_spool.get(0, by_spool[min(by_spool)])]
    for level in range(1, top + 1):
        if level in by_spool:
            out.append(by_spool[level])
        elif 0 in by_spool and out[-1] == by_spool[0]:
            below = min((s for s in by_spool if s > level), default=None)
            out.append(by_spool[below] if below is not None else out[-1])
        else:
            out.append(out[-1])
    return out


def _choice_at(levels: list[int], level: int) -> int:
    return levels[min(level, len(levels) - 1)]


def _cost(pages: Sequence[PageAnalysis], choice: Sequence[int]) -> int:
    return sum(p.candidates[c].bytes_ for p, c in zip(pages, choice, strict=True))


def plan_budget(documents: Sequence[Document], budget: Budget, file_names: dict[str, str]) -> Plan:
    """Decide destination and per-page encoding for every document."""
    upload = [d for d in documents if d.pages]
    mailed: list[tuple[Document, str]] = []
    while True:
        reserve = budget.declaration_reserve_bytes if mailed else 0
        files = 1 if budget.single_file else len(upload)
        available = budget.limit_bytes - budget.fixed_bytes - reserve - files * budget.per_file_overhead_bytes
        result = _fit(upload, available)
        if result is not None:
            level, choices = result
            break
        if not upload:
            raise DoesNotFit(
                f"the photo and the declaration alone exceed the limit of {budget.limit_bytes:,} bytes"
            )
        victim = min(upload, key=lambda d: (d.kind.mail_priority, -_floor_bytes(d), d.key))
        upload.remove(victim)
        mailed.append(
            (
                victim,
                f"the upload cannot hold every document legibly (≥ the profile's minimum dpi) within "
                f"{budget.limit_bytes:,} bytes; this one has the lowest mail priority "
                f"({victim.kind.mail_priority}) and needs {_floor_bytes(victim):,} bytes at its most compact",
            )
        )
    # Mailing goes by priority, so a small document may have gone before a big one that
    # then had to go too. Bring back, highest priority first, whatever still fits.
    for victim, _reason in reversed(list(mailed)):
        trial = [d for d in documents if d in upload or d is victim]
        files = 1 if budget.single_file else len(trial)
        room = budget.limit_bytes - budget.fixed_bytes - budget.declaration_reserve_bytes
        room -= files * budget.per_file_overhead_bytes
        if len(mailed) > 1 and (result_back := _fit(trial, room)) is not None:
            upload = trial
            mailed = [(m, r) for m, r in mailed if m is not victim]
            available = room
            level, choices = result_back
    chosen = dict(zip((d.key for d in upload), choices, strict=True))
    planned = []
    for d in documents:
        if d.key in chosen:
            planned.append(PlannedDocument(d, "upload", chosen[d.key], file_names[d.key]))
        elif any(d is m for m, _ in mailed):
            reason = next(r for m, r in mailed if m is d)
            planned.append(PlannedDocument(d, "mail", tuple(0 for _ in d.pages), file_names[d.key], reason))
    reserved = budget.limit_bytes - available
    return Plan(
        limit_bytes=budget.limit_bytes,
        budget_bytes=available,
        reserved_bytes=reserved,
        documents=tuple(planned),
        level=level,
    )


def fits_without_mail(documents: Sequence[Document], budget: Budget) -> bool:
    """Whether every document fits the upload at some level of the candidates known so far."""
    docs = [d for d in documents if d.pages]
    files = 1 if budget.single_file else len(docs)
    available = budget.limit_bytes - budget.fixed_bytes - files * budget.per_file_overhead_bytes
    return _fit(docs, available) is not None


def _floor_bytes(doc: Document) -> int:
    return sum(min(c.bytes_ for c in p.candidates) for p in doc.pages)


def _fit(docs: Sequence[Document], available: int) -> tuple[int, list[tuple[int, ...]]] | None:
    """(uniform level, per-document choices) filling `available` best, or None."""
    pages = [p for d in docs for p in d.pages]
    if not pages:
        return (0, [()] * len(docs)) if available >= 0 else None
    levels = [levels_of(p) for p in pages]
    depth = max(len(lv) for lv in levels)
    for level in range(depth):
        choice = [_choice_at(lv, level) for lv in levels]
        if _cost(pages, choice) <= available:
            break
    else:
        return None
    choice = _spend_leftover(pages, levels, choice, level, available)
    out: list[tuple[int, ...]] = []
    i = 0
    for d in docs:
        out.append(tuple(choice[i : i + len(d.pages)]))
        i += len(d.pages)
    return level, out


def _spend_leftover(
    pages: Sequence[PageAnalysis], levels: list[list[int]], choice: list[int], level: int, available: int
) -> list[int]:
    """Upgrade pages one level at a time while the budget allows: G4 pages first, then the
    cheapest upgrades first."""
    choice = list(choice)
    left = available - _cost(pages, choice)
    for better in range(level - 1, -1, -1):
        steps = []
        for i, (p, lv) in enumerate(zip(pages, levels, strict=True)):
            new = _choice_at(lv, better)
            delta = p.candidates[new].bytes_ - p.candidates[choice[i]].bytes_
            if new != choice[i] and delta > 0:
                # Binarised pages first: losing the grey levels is what costs OCR accuracy
                # (measured here: +1 pp mean on G4 text pages and two dense pages at +11/+13 pp,
                # against ≈ 0 for JPEG q80 at 300 dpi and −1.7 pp for four grey levels), so
                # bytes spent giving a G4 page its grey edges back buy the most legibility.
                bilevel_first = 0 if p.candidates[choice[i]].encoding.method == "g4" else 1
                steps.append((bilevel_first, delta, i, new))
        steps.sort()
        upgraded = False
        for _first, delta, i, new in steps:
            if delta <= left:
                choice[i] = new
                left -= delta
                upgraded = True
        if not upgraded:
            break
    return choice

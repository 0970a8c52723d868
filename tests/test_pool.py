"""pool: per-page work in worker processes, results in task order, costliest first."""

from __future__ import annotations

from pathlib import Path

from fixtures.pages import text_page
from packager import pool
from packager.encode import PageFailure, PageTask, spool_path
from packager.intake import scan_case
from packager.model import PageAnalysis
from packager.pages import describe_pages
from packager.profiles import load_system_profile

SYSTEM = load_system_profile()


def _tasks(tmp_path: Path) -> list[PageTask]:
    case = tmp_path / "case"
    case.mkdir()
    small, _ = text_page(150, seed=1, size_mm=(105, 74), pt=9)
    big, _ = text_page(300, seed=2, size_mm=(105, 148), pt=9)
    small.save(case / "a-small.png", dpi=(150, 150))
    big.save(case / "b-big.tif", compression="tiff_lzw", dpi=(300, 300))
    spool = tmp_path / "spool"
    spool.mkdir()
    inputs = sorted(scan_case(case, SYSTEM).inputs, key=lambda i: i.path)
    return [
        PageTask(
            page=describe_pages(inp, SYSTEM)[0],
            task_id=f"t{n}",
            ladders=SYSTEM.ladders,
            max_dpi=SYSTEM.max_dpi,
            colour_hint=False,
            spool_dir=spool,
            rungs=(1,),
            first_pass=SYSTEM.first_pass_rungs,
        )
        for n, inp in enumerate(inputs)
    ]


def test_results_come_back_in_task_order_with_workers_or_without(tmp_path: Path) -> None:
    tasks = _tasks(tmp_path)
    seen: list[tuple[str, int, int]] = []
    inline = list(pool.analyse_pages(tasks, 1, lambda stage, done, total: seen.append((stage, done, total))))
    parallel = list(pool.analyse_pages(tasks, 2))
    assert [r.page.input.path for r in inline] == [t.page.input.path for t in tasks]
    assert [r.page.input.path for r in parallel] == [t.page.input.path for t in tasks]
    for a, b in zip(inline, parallel, strict=True):
        assert isinstance(a, PageAnalysis) and isinstance(b, PageAnalysis)
        assert [c.bytes_ for c in a.candidates] == [c.bytes_ for c in b.candidates]
    assert seen == [("pages", 1, 2), ("pages", 2, 2)]


def test_the_bigger_page_is_expected_to_cost_more(tmp_path: Path) -> None:
    small, big = _tasks(tmp_path)
    assert pool.expected_work(big) > pool.expected_work(small) > 0


def test_mail_pages_are_written_to_their_spool_paths(tmp_path: Path) -> None:
    tasks = _tasks(tmp_path)
    analyses = [r for r in pool.analyse_pages(tasks, 1) if not isinstance(r, PageFailure)]
    jobs = [(a.page, a.page_class, spool_path(tmp_path / "spool", a.spool_key, 99)) for a in analyses[:2]]
    made = pool.write_mail_pages(jobs, 2)
    assert [size for size, _how in made] == [path.stat().st_size for _p, _c, path in jobs]
    assert all(how for _size, how in made)

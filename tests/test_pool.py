"""pool: per-page work in worker processes, results in task order, costliest first; a page past its
time or memory limit, or whose decoder crashes its worker, fails alone (the worker is replaced)."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

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


# ---------------------------------------------------------------------------- limits


def _work(task: tuple[str, int]) -> object:
    """A stand-in for encode.analyse_page: what a decoder can do on hostile bytes."""
    what, n = task
    if what == "hang":
        time.sleep(60)
    elif what == "crash":
        os.kill(os.getpid(), signal.SIGSEGV)
    elif what == "memory":
        return len(bytearray(800_000_000))
    elif what == "bug":
        raise ValueError("a bug in packager")
    return ("done", n)


def _failure(task: tuple[str, int], why: str) -> object:
    return ("failed", task[1], why)


def _run(tasks: list[tuple[str, int]], limits: pool.PageLimits, workers: int = 2) -> list[object]:
    return pool.run_limited(_work, tasks, range(len(tasks)), workers, limits, None, _failure)


def test_limited_results_come_back_in_task_order() -> None:
    tasks = [("ok", i) for i in range(7)]
    assert _run(tasks, pool.PageLimits(time_s=30)) == [("done", i) for i in range(7)]


def test_workers_let_go_stop_by_themselves_and_are_reaped() -> None:
    """At the end of a pass the workers are told to stop, not waited for (_Worker.let_go); they
    end on their own, and the next pass (or active_children) reaps them: none is left."""
    import multiprocessing

    assert _run([("ok", i) for i in range(4)], pool.PageLimits(time_s=30)) == [("done", i) for i in range(4)]
    deadline = time.monotonic() + 20
    while multiprocessing.active_children() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert multiprocessing.active_children() == []


def test_a_hung_page_is_ended_at_its_time_limit_and_the_rest_go_on() -> None:
    started = time.monotonic()
    out = _run([("ok", 0), ("hang", 1), ("ok", 2), ("ok", 3)], pool.PageLimits(time_s=6))
    assert time.monotonic() - started < 50  # the hung page is ended long before its 60 s sleep
    assert out[0] == ("done", 0) and out[2:] == [("done", 2), ("done", 3)]
    assert out[1][:2] == ("failed", 1) and "took longer than 6 s" in out[1][2]  # type: ignore[index]


def test_a_crashing_decoder_fails_its_page_only() -> None:
    out = _run([("crash", 0), ("ok", 1), ("crash", 2), ("ok", 3)], pool.PageLimits(time_s=30), workers=1)
    assert out[1] == ("done", 1) and out[3] == ("done", 3)
    assert out[0][:2] == ("failed", 0) and "crashed the decoder (SIGSEGV)" in out[0][2]  # type: ignore[index]


def test_a_page_past_the_memory_limit_fails_alone() -> None:
    out = _run([("memory", 0), ("ok", 1)], pool.PageLimits(time_s=30, memory_bytes=600_000_000))
    assert out[1] == ("done", 1)
    assert out[0][:2] == ("failed", 0) and "more than 0.6 GB of memory" in out[0][2]  # type: ignore[index]


def test_a_bug_in_packager_is_raised_not_hidden() -> None:
    with pytest.raises(pool.WorkerBug, match="ValueError: a bug in packager"):
        _run([("ok", 0), ("bug", 1)], pool.PageLimits(time_s=30))


def test_limits_come_from_the_profile() -> None:
    from packager.profiles import load_system_profile

    system = load_system_profile()
    assert system.page_time_limit_s == 60 and system.page_memory_limit_mb == 3000


def test_work_aside_gives_its_result_a_bug_or_that_it_died() -> None:
    """Aside runs one call in a process of its own (the build's kinds and digests, alongside
    the pool): its value comes back; its exception is packager's bug; a process that ends
    without a result (killed, a library's crash) is AsideDied, which the build survives."""
    assert pool.Aside(divmod, 7, 2).result() == (3, 1)
    with pytest.raises(pool.WorkerBug, match="ValueError"):
        pool.Aside(int, "not a number").result()
    with pytest.raises(pool.AsideDied, match=r"without a result \(exit 3\)"):
        pool.Aside(os._exit, 3).result()
    running = pool.Aside(time.sleep, 60)
    started = time.monotonic()
    running.end()  # a build that fails first does not wait for it
    assert time.monotonic() - started < 10

"""MRC speed, A/B: main's packager/mrc.py against this tree's, page by page, in one process.

    python bench/mrc_speed.py [typical heavy] [--work DIR] [--repeat N] [--ref main]

For the colour and grey pages of the generated bundles (the pages the MRC rungs apply to,
scanned at a known dpi), decoded at 300 dpi as a build does, each version runs
`segment(image, 300, 200)` + `mrc_page_pdf(layers, 65)` — the first-pass MRC rung of the
profiles. The two versions alternate on each page (same load for both; the machine is
shared), each time is the best of --repeat runs. Printed per page: both wall times, both
PDFs' bytes (q65 and q40), and the text pixels B drops and adds, as shares of A's text pixels;
then the means, and the speed-up in wall and CPU time (CPU time is steadier under load).

The process first takes the malloc settings of a build's workers (pool._keep_freed_buffers:
freed image buffers are reused, not unmapped and faulted in again), as `--jobs 2` builds run
MRC; `--plain-malloc` keeps glibc's defaults (as a `--jobs 1` build or bench/stages.py runs:
there each new full-size array costs its page faults, ~1 ms per 9 MB).

`--builds N` instead runs N pairs of whole `packager build CASE --jobs 1` (the sizes' generated
cases, glibc's malloc), A's and B's segment + mrc_page_pdf alternating in the same process,
and prints the CPU time spent in them: each page segmented once, cold, between decodes and
other encodes — what a build pays, without cProfile's noise (bench/stages.py).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import run as bench

from fixtures.generate import make_case
from packager import mrc as ours
from packager.classify import classify_page
from packager.intake import scan_case
from packager.pages import describe_pages, load_page
from packager.pool import _keep_freed_buffers
from packager.profiles import load_kinds, load_system_profile

ROOT = Path(__file__).resolve().parents[1]
MASK_DPI = 300
BACKGROUND_DPI = 200
QUALITIES = (65, 40)  # the profiles' two MRC rungs; the first is the one the first pass makes


def load_ref(ref: str, tmp: Path) -> ModuleType:
    """`ref`'s packager/mrc.py as a module of its own (it imports only third-party libraries)."""
    source = subprocess.run(
        ["git", "-C", str(ROOT), "show", f"{ref}:packager/mrc.py"], capture_output=True, text=True, check=True
    ).stdout
    path = tmp / "mrc_ref.py"
    path.write_text(source, encoding="utf-8")
    spec = importlib.util.spec_from_file_location("mrc_ref", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["mrc_ref"] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


def text_pages(case: Path) -> list[tuple[str, Image.Image, float]]:
    """(label, image, dpi) of the case's colour and grey pages that MRC applies to."""
    system = load_system_profile()
    kinds = load_kinds()
    found = []
    for inp in scan_case(case, system).inputs:
        hint = kinds.get(inp.kind, kinds["other"]).colour
        for page in describe_pages(inp, system):
            if page.dpi_estimated:  # phone photos keep their whole-image rungs (encode._mrc_applies)
                continue
            loaded = load_page(page, MASK_DPI)
            cls = classify_page(loaded.image, loaded.dpi, colour_hint=hint)
            if cls.name in ("colour", "grey"):
                found.append((f"{inp.path}#{page.page_index + 1} {cls.name}", loaded.image, loaded.dpi))
    return found


def run_one(module: ModuleType, image: Image.Image, dpi: float) -> tuple[float, float, Any, bytes]:
    """Wall and CPU seconds of segment + the first-pass PDF, the layers and the PDF."""
    t0, c0 = time.perf_counter(), time.process_time()
    layers = module.segment(image, dpi, BACKGROUND_DPI)
    data = module.mrc_page_pdf(layers, QUALITIES[0]) if layers is not None else b""
    return time.perf_counter() - t0, time.process_time() - c0, layers, data


def compare(ref: ModuleType, label: str, image: Image.Image, dpi: float, repeat: int) -> dict[str, Any] | None:
    """Both versions on one page, alternating which goes first (caches and load fall on both
    alike); the best of `repeat` runs each."""
    wall = {"a": float("inf"), "b": float("inf")}
    cpu = dict(wall)
    out: dict[str, tuple[Any, bytes]] = {}
    for r in range(repeat):
        for key, module in [("a", ref), ("b", ours)] if r % 2 == 0 else [("b", ours), ("a", ref)]:
            w, c, layers, data = run_one(module, image, dpi)
            wall[key], cpu[key] = min(wall[key], w), min(cpu[key], c)
            out[key] = (layers, data)
    (la, da), (lb, db) = out["a"], out["b"]
    if la is None or lb is None:
        print(f"{label[-48:]:48} no text found: A {la is None}, B {lb is None}")
        return None
    ma, mb = np.asarray(la.mask, dtype=bool), np.asarray(lb.mask, dtype=bool)
    row = {
        "wall_a": wall["a"], "wall_b": wall["b"], "cpu_a": cpu["a"], "cpu_b": cpu["b"],
        "a65": len(da), "b65": len(db),
        "a40": len(ref.mrc_page_pdf(la, QUALITIES[1])), "b40": len(ours.mrc_page_pdf(lb, QUALITIES[1])),
        "dropped": int(np.count_nonzero(mb & ~ma)), "added": int(np.count_nonzero(ma & ~mb)),  # mask: text = 0
        "text": int(np.count_nonzero(~ma)), "pixels": ma.size,
    }  # fmt: skip
    print(
        f"{label[-48:]:48} {row['wall_a']:6.3f} {row['wall_b']:6.3f} {row['a65']:8d} {row['b65']:8d} "
        f"{row['a40']:8d} {row['b40']:8d} {row['dropped'] / max(1, row['text']):7.2%} "
        f"{row['added'] / max(1, row['text']):7.2%}"
    )
    return row


def in_builds(ref: ModuleType, case: Path, out: Path, pairs: int) -> None:
    """CPU seconds in segment and mrc_page_pdf of whole one-process builds, A and B alternating."""
    from packager import encode
    from packager.cli import main as cli

    versions = {
        "A": (ref.segment, ref.mrc_page_pdf),
        "B": (ours.segment, ours.mrc_page_pdf),
    }
    for name in ["A", "B"] * pairs:
        spent = {"segment": 0.0, "pdf": 0.0, "pages": 0.0}

        def timed(key: str, fn: Any, spent: dict[str, float] = spent) -> Any:
            def run(*args: Any) -> Any:
                c0 = time.process_time()
                result = fn(*args)
                spent[key] += time.process_time() - c0
                spent["pages"] += key == "segment"
                return result

            return run

        segment, pdf = versions[name]
        encode.mrc.segment, encode.mrc.mrc_page_pdf = timed("segment", segment), timed("pdf", pdf)  # type: ignore[method-assign]
        c0 = time.process_time()
        cli(["build", str(case), "--out", str(out / name), "--jobs", "1", "--quiet"])
        n = max(1, int(spent["pages"]))
        print(
            f"{name}: {case.parent.name} build CPU {time.process_time() - c0:.2f} s; {n} pages segmented: "
            f"segment {spent['segment']:.3f} s ({spent['segment'] / n * 1000:.1f} ms a page), "
            f"layers → PDF {spent['pdf']:.3f} s; load average {os.getloadavg()[0]:.2f}",
            flush=True,
        )
    encode.mrc.segment, encode.mrc.mrc_page_pdf = versions["B"]  # type: ignore[method-assign]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sizes", nargs="*", default=["typical", "heavy"])
    parser.add_argument("--work", type=Path, default=None, help="keep generated cases here (reused)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--ref", default="main", help="the git revision to compare against")
    parser.add_argument("--plain-malloc", action="store_true", help="glibc's malloc defaults, not the workers'")
    parser.add_argument("--builds", type=int, default=0, help="N pairs of whole --jobs 1 builds instead")
    args = parser.parse_args()
    if args.builds:
        tmp = Path(tempfile.mkdtemp(prefix="mrc-speed-"))
        ref = load_ref(args.ref, tmp)
        work = args.work or tmp
        print(f"A = {args.ref}'s packager/mrc.py, B = this tree's; whole builds, --jobs 1, glibc's malloc")
        for size in args.sizes:
            case = work / size / "case"
            if not case.is_dir():
                make_case(size, case, bench.SEEDS.get(size, 0))
            in_builds(ref, case, tmp / size, args.builds)
        return 0
    if not args.plain_malloc:
        _keep_freed_buffers()
    tmp = Path(tempfile.mkdtemp(prefix="mrc-speed-"))
    ref = load_ref(args.ref, tmp)
    work = args.work or tmp
    malloc = "glibc defaults" if args.plain_malloc else "the workers' malloc settings"
    print(f"A = {args.ref}'s packager/mrc.py, B = this tree's; {malloc}; load average {os.getloadavg()[0]:.2f}")
    heads = ("A s", "B s", "A q65", "B q65", "A q40", "B q40", "mask −", "mask +")
    widths = (6, 6, 8, 8, 8, 8, 7, 7)
    print(f"{'page':48} " + " ".join(f"{h:>{w}}" for h, w in zip(heads, widths, strict=True)))
    rows = []
    for size in args.sizes:
        case = work / size / "case"
        if not case.is_dir():
            make_case(size, case, bench.SEEDS.get(size, 0))
        for label, image, dpi in text_pages(case):
            row = compare(ref, f"{size}/{label}", image, dpi, args.repeat)
            if row is not None:
                rows.append(row)
    if not rows:
        return 1
    n = len(rows)
    total = {k: sum(r[k] for r in rows) for k in rows[0]}
    print(
        f"{'mean of ' + str(n) + ' pages':48} {total['wall_a'] / n:6.3f} {total['wall_b'] / n:6.3f} "
        f"{total['a65'] // n:8d} {total['b65'] // n:8d} {total['a40'] // n:8d} {total['b40'] // n:8d} "
        f"{total['dropped'] / total['text']:7.2%} {total['added'] / total['text']:7.2%}"
    )
    print(
        f"speed-up: wall {total['wall_a'] / total['wall_b']:.2f}×, CPU {total['cpu_a'] / total['cpu_b']:.2f}× "
        f"(CPU s/page A {total['cpu_a'] / n:.3f}, B {total['cpu_b'] / n:.3f}); bytes B/A q65 "
        f"{total['b65'] / total['a65']:.3f}, q40 {total['b40'] / total['a40']:.3f}; per page B/A q65 "
        f"{min(r['b65'] / r['a65'] for r in rows):.3f}–{max(r['b65'] / r['a65'] for r in rows):.3f}"
    )
    print(
        f"mask −/+: A's text pixels B does not have / B's text pixels A does not have, as shares of A's text "
        f"pixels (together {(total['dropped'] + total['added']) / total['pixels']:.4%} of all pixels); "
        f"load average after {os.getloadavg()[0]:.2f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

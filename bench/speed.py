"""Timing only: packager against gs /ebook on the generated bundles, three times each, no OCR.

    python bench/speed.py [small typical heavy] [--work DIR] [--repeat N]

Uses bench/run.py's own runners (the same commands, the same gs merge, not counted in gs's
time), so the ratio is the one of the full benchmark, in a minute instead of half an hour.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import run as bench

from fixtures.generate import make_case


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sizes", nargs="*", default=["small", "typical", "heavy"])
    parser.add_argument("--work", type=Path, default=None, help="scratch folder (default: temporary)")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="packager-speed-"))
    for size in args.sizes:
        case = work / size / "case"
        if not case.is_dir():
            make_case(size, case)
        docs, _ = bench.merge_documents(case, work / size)
        ratios = []
        for rep in range(args.repeat):
            shutil.rmtree(work / size / "pk", ignore_errors=True)
            pk = bench.run_packager(case, work / size / "pk", work / size / "pk.log")
            gs = bench.run_gs(docs, work / size / "gs.log")
            print(
                f"{size:8} run {rep + 1}: packager {pk.wall_s:6.2f} s  gs {gs.wall_s:6.2f} s  "
                f"ratio {pk.wall_s / gs.wall_s:4.2f}  (1-min load {os.getloadavg()[0]:.1f})",
                flush=True,
            )
            ratios.append(pk.wall_s / gs.wall_s)
        print(f"{size:8} median ratio of {len(ratios)}: {statistics.median(ratios):.2f}", flush=True)
    if args.work is None:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

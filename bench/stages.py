"""Where a build's time goes: one `packager build --jobs 1` under cProfile, summed by stage.

    python bench/stages.py [typical heavy] [--limit BYTES] [--work DIR]

One process (--jobs 1) so every stage is seen by the profiler; the times are CPU-bound work
that the real build spreads over both cores. Stages are the cumulative times of the functions
that do them (a stage inside another, such as decoding during the second pass, is also in
that one's line: the "second pass" row is the whole of it).
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import run as bench

from fixtures.generate import make_case

# (label, module file, function): the function's cumulative time is the stage's.
STAGES = [
    ("intake (sniff, hash, kinds)", "intake.py", "scan_case"),
    ("kind from content (OCR)", "recognise.py", "assign_kinds"),
    ("first pass (every page, waves), all of it", "passes.py", "first_pass"),
    ("copy originals (one-page PDFs)", "encode.py", "original_page_pdf"),
    ("decode (libjpeg draft, pdfium)", "pages.py", "load_page"),
    ("  of which a scan's full-page JPEG", "pages.py", "_decode_full_page_jpeg"),
    ("classify", "classify.py", "classify_page"),
    ("  of which the 100 dpi thumbnail", "classify.py", "thumbnail"),
    ("  of which blank check (150 dpi)", "classify.py", "_is_blank"),
    ("resize to rung dpi", "pages.py", "resize_to_dpi"),
    ("encode G4 / four levels / JPEG", "encode.py", "encode_image"),
    ("  of which four levels (the pixels)", "classify.py", "four_levels"),
    ("  wrap as PDF (img2pdf)", "encode.py", "_image_pdf"),
    ("MRC segmentation", "mrc.py", "segment"),
    ("MRC layers → PDF (G4, JPEG)", "mrc.py", "mrc_page_pdf"),
    ("second pass (lower rungs), all of it", "passes.py", "second_pass"),
    ("plan", "plan.py", "plan_budget"),
    ("write the plan (upload, mail, forms), all of it", "write.py", "write_plan"),
    ("  assemble documents", "assemble.py", "assemble_pdf"),
    ("  mailed pages + forms", "write.py", "_write_mail"),
    ("manifest", "outputs.py", "write_manifest"),
]


def profile_build(case: Path, out: Path, limit: int | None) -> tuple[float, dict[str, float]]:
    from packager.cli import main as cli

    if out.exists():
        shutil.rmtree(out)
    argv = ["build", str(case), "--out", str(out), "--jobs", "1", "--quiet"]
    if limit is not None:
        argv += ["--limit", str(limit)]
    prof = cProfile.Profile()
    t0 = time.perf_counter()
    prof.runcall(cli, argv)
    wall = time.perf_counter() - t0
    stats = pstats.Stats(prof).stats  # type: ignore[attr-defined]
    found: dict[str, float] = {}
    for label, file, func in STAGES:
        found[label] = sum(v[3] for (f, _line, name), v in stats.items() if name == func and f.endswith(file))
    return wall, found


def startup_s() -> float:
    """A new process's `import packager.api` (what every build pays before its first page), in
    a subprocess: in this one the modules are imported already."""
    code = "import time; t = time.perf_counter(); import packager.cli, packager.api; print(time.perf_counter() - t)"
    runs = [subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True) for _ in range(3)]
    return min(float(r.stdout) for r in runs)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sizes", nargs="*", default=["typical", "heavy"])
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--work", type=Path, default=None)
    args = parser.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="packager-profile-"))
    results = {}
    for size in args.sizes:
        case = work / size / "case"
        if not case.is_dir():
            make_case(size, case, bench.SEEDS.get(size, 0))
        results[size] = profile_build(case, work / size / "out", args.limit)
    print("| stage | " + " | ".join(f"{s} s" for s in results) + " |")
    print("|---|" + "---:|" * len(results))
    for label, _file, _func in STAGES:
        print(f"| {label} | " + " | ".join(f"{r[1][label]:.2f}" for r in results.values()) + " |")
    startup = startup_s()  # the same for every bundle
    print("| start-up: imports (best of 3 new processes) | " + " | ".join(f"{startup:.2f}" for _ in results) + " |")
    print("| **whole build, one process** | " + " | ".join(f"**{r[0]:.2f}**" for r in results.values()) + " |")
    if args.work is None:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The shared corpus of real scans (../shared/corpus, DESIGN §6) as a benchmark case.

The corpus is read in place and never copied into the project: `prepare_corpus_case` copies
its files into a temporary case folder outside the project (packager rejects symlinks, so a
folder of links would not do). Real scans have no ground truth except a02_linn.txt, so the
reference text of a page is tesseract's reading of the source page (DESIGN §5).
"""

from __future__ import annotations

import csv
import shutil
from dataclasses import dataclass
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
CORPUS = PROJECT.parent / "shared" / "corpus"

# Ground-truth text shipped beside a corpus file: file name → text file name.
GROUND_TRUTH = {"a02_linn.pdf": "a02_linn.txt"}


@dataclass(frozen=True)
class CorpusFile:
    name: str
    what: str  # MANIFEST.tsv's description
    ground_truth: str | None  # whole-file ground-truth text, when the corpus has it


def corpus_files(corpus: Path = CORPUS) -> list[CorpusFile]:
    """Every scan of the corpus (not MANIFEST.tsv, not ground-truth .txt files), sorted."""
    described: dict[str, str] = {}
    manifest = corpus / "MANIFEST.tsv"
    if manifest.is_file():
        with manifest.open(encoding="utf-8", newline="") as fh:
            for row in csv.DictReader(fh, delimiter="\t"):
                described[row["file"]] = row.get("what", "")
    truth_names = set(GROUND_TRUTH.values())
    files = []
    for path in sorted(corpus.iterdir()):
        if not path.is_file() or path.name == "MANIFEST.tsv" or path.name in truth_names:
            continue
        gt_name = GROUND_TRUTH.get(path.name)
        gt = (corpus / gt_name).read_text(encoding="utf-8") if gt_name and (corpus / gt_name).is_file() else None
        files.append(CorpusFile(path.name, described.get(path.name, ""), gt))
    return files


def prepare_corpus_case(dest: Path, corpus: Path = CORPUS) -> tuple[Path, list[CorpusFile]]:
    """Copy the corpus scans into `dest`/corpus-case (a temporary folder outside the project)."""
    if not corpus.is_dir():
        raise FileNotFoundError(f"corpus not found at {corpus}")
    if PROJECT in dest.resolve().parents:
        raise ValueError(f"{dest} is inside the project; the corpus must not be copied into it")
    case = dest / "corpus-case"
    case.mkdir(parents=True, exist_ok=True)
    files = corpus_files(corpus)
    for f in files:
        shutil.copyfile(corpus / f.name, case / f.name)
    return case, files

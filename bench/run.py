"""Benchmark: packager against Ghostscript /ebook on generated bundles and on the real corpus.

    python bench/run.py [--sizes small,typical,heavy] [--corpus] [--out bench/results]

For each bundle: generate it (fixtures.generate.make_case, seeded), run `packager build` as a
subprocess, run Ghostscript `-sDEVICE=pdfwrite -dPDFSETTINGS=/ebook` on the same input (merged
to one PDF per document first, see README), then measure both outputs the same way: bytes on
disk, fit, effective dpi, tesseract jpn+eng character error rate against ground truth (and its
increase over the source page's own CER), SSIM at 150 dpi, wall time, pages/s and peak RSS.
Prints a table per bundle and writes everything to OUT/<bundle>.json. See bench/README.md.
"""

from __future__ import annotations

import argparse
import compileall
import hashlib
import io
import json
import math
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import tomllib
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

PROJECT = Path(__file__).resolve().parents[1]
if str(PROJECT) not in sys.path:
    sys.path.insert(0, str(PROJECT))

import img2pdf  # noqa: E402
import numpy as np  # noqa: E402
import pikepdf  # noqa: E402
import pypdfium2 as pdfium  # noqa: E402
from PIL import Image, ImageOps  # noqa: E402

from bench.corpus import prepare_corpus_case  # noqa: E402
from packager.legibility import (  # noqa: E402
    character_error_rate,
    effective_dpi_of_pdf,
    normalise_text,
    ocr_text,
    page_image,
    render_image_file,
    render_pdf_page,
    ssim,
)

LIMIT_BYTES = 25_000_000  # the ISA's 25 MB, budgeted decimal (DESIGN §2)
JOBS = 2  # both cores, for packager, gs and OCR alike
SEEDS = {"small": 1, "typical": 2, "heavy": 3}
OCR_EVERY = {"small": 1, "typical": 4, "heavy": 4, "corpus": 1}
MAX_RENDER_PX = 40_000_000  # cap a rendered page (a 30×30 in poster at 300 dpi) for tesseract
MAX_SSIM_PX = 6_000_000  # SSIM at 150 dpi: an A4 page is 2.2 MP; a poster page is shrunk to this
SSIM_DPI = 150  # DESIGN §5: second signal, both rendered at 150 dpi greyscale
TESSERACT = subprocess.run(["tesseract", "--version"], capture_output=True, text=True, check=False).stdout[:40]
TIME_BIN = "/usr/bin/time" if Path("/usr/bin/time").is_file() else ""
SKIP_NAMES = {"case.toml", ".DS_Store", "Thumbs.db"}

PageSpec = tuple[str, str, int, float]  # ("pdf" | "image", absolute path, 0-based page, render dpi)


# --- running a command and measuring it ------------------------------------------------------


@dataclass
class RunStats:
    wall_s: float = 0.0
    returncodes: list[int] = field(default_factory=list)
    max_rss_mb: float = 0.0  # largest single process (wait4 ru_maxrss: the process and its waited children)
    tree_rss_mb: float = 0.0  # largest sampled sum of RSS over every process started (10 Hz)
    stderr_tail: str = ""


def _children_map() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as fh:
                stat = fh.read()
        except OSError:
            continue
        ppid = int(stat[stat.rfind(b")") + 2 :].split()[1])
        kids.setdefault(ppid, []).append(int(entry))
    return kids


def _rss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status", "rb") as fh:
            for line in fh:
                if line.startswith(b"VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _tree_rss_kb(roots: Sequence[int]) -> int:
    kids = _children_map()
    total, todo, seen = 0, list(roots), set()
    while todo:
        pid = todo.pop()
        if pid in seen:
            continue
        seen.add(pid)
        total += _rss_kb(pid)
        todo.extend(kids.get(pid, ()))
    return total


def run_measured(cmds: Sequence[Sequence[str]], jobs: int, log: Path, env: dict[str, str] | None = None) -> RunStats:
    """Run `cmds`, `jobs` at a time; wall time of the whole, peak RSS per process and of the tree."""
    stats = RunStats()
    live: set[int] = set()
    lock = threading.Lock()
    done = threading.Event()
    peak_kb = 0

    def sample() -> None:
        nonlocal peak_kb
        while not done.is_set():
            with lock:
                roots = list(live)
            if roots:
                peak_kb = max(peak_kb, _tree_rss_kb(roots))
            done.wait(0.1)

    def one(i_cmd: tuple[int, Sequence[str]]) -> tuple[int, int, str]:
        i, cmd = i_cmd
        err_path = log.with_name(f"{log.name}.{i}.stderr")
        rss_path = log.with_name(f"{log.name}.{i}.maxrss")
        # Through /usr/bin/time: a child's ru_maxrss keeps the high-water mark of the process it
        # was forked from (Linux carries it across exec), so wait4 on a child of this big bench
        # process reports the bench's own size. time(1) is small; its child's %M is the tool's.
        wrapped = [TIME_BIN, "-f", "%M", "-o", str(rss_path), *cmd] if TIME_BIN else list(cmd)
        with open(err_path, "wb") as err, open(os.devnull, "wb") as out:
            proc = subprocess.Popen(wrapped, stdout=out, stderr=err, env=env, cwd=PROJECT)
            with lock:
                live.add(proc.pid)
            _, status, usage = os.wait4(proc.pid, 0)
            proc.returncode = os.waitstatus_to_exitcode(status)
            with lock:
                live.discard(proc.pid)
        tail = err_path.read_text(errors="replace")[-2000:]
        maxrss_kb = usage.ru_maxrss
        if TIME_BIN:
            try:
                maxrss_kb = int(rss_path.read_text().split()[-1])
            except (OSError, ValueError, IndexError):
                maxrss_kb = 0
        return proc.returncode, maxrss_kb, tail

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        results = list(pool.map(one, enumerate(cmds)))
    stats.wall_s = time.perf_counter() - t0
    done.set()
    sampler.join()
    stats.returncodes = [r[0] for r in results]
    stats.max_rss_mb = max((r[1] for r in results), default=0) / 1024
    stats.tree_rss_mb = peak_kb / 1024
    stats.stderr_tail = "\n".join(r[2].strip() for r in results if r[0] != 0 and r[2].strip())[-2000:]
    return stats


# --- the case's inputs -----------------------------------------------------------------------


def case_inputs(case: Path) -> list[Path]:
    return sorted(
        (p for p in case.rglob("*") if p.is_file() and p.name not in SKIP_NAMES and not p.name.startswith(".")),
        key=lambda p: _natural_key(p.relative_to(case).as_posix()),
    )


def _natural_key(text: str) -> list[Any]:
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", text)]


def _is_pdf(path: Path) -> bool:
    with path.open("rb") as fh:
        return fh.read(1024).find(b"%PDF-") >= 0


def source_page_count(path: Path) -> int:
    try:
        if _is_pdf(path):
            with pikepdf.open(path) as pdf:
                return len(pdf.pages)
        _register_heif()
        with Image.open(path) as im:
            return getattr(im, "n_frames", 1)
    except Exception:
        return 0


def _register_heif() -> None:
    try:
        import pillow_heif

        pillow_heif.register_heif_opener()
    except ImportError:
        pass


def document_key(case: Path, path: Path, mapping: list[tuple[str, str]]) -> str:
    """The document a file belongs to, for the Ghostscript baseline only: case.toml's
    [documents] globs first, else the name without a leading number and trailing '-N' (the
    README's naming rule, roughly: packager's own grouping is in its intake)."""
    rel = path.relative_to(case).as_posix()
    for pattern, kind in mapping:
        if fnmatch(rel, pattern) or fnmatch(path.name, pattern):
            return kind
    stem = path.name.split(".")[0].lower().replace("_", "-")
    stem = re.sub(r"^\d+[-\s]*", "", stem)
    stem = re.sub(r"[-\s]*\d+$", "", stem)
    return stem or path.stem.lower()


def _case_mapping(case: Path) -> list[tuple[str, str]]:
    toml_path = case / "case.toml"
    if not toml_path.is_file():
        return []
    try:
        data = tomllib.loads(toml_path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError):
        return []
    docs = data.get("documents", {})
    return [(str(k), str(v)) for k, v in docs.items()] if isinstance(docs, dict) else []


# --- Ghostscript baseline ----------------------------------------------------------------------


def _image_to_pdf(path: Path) -> bytes:
    """img2pdf as a user would run it (it keeps the file's dpi tag and passes JPEG through);
    files it refuses (alpha, 16-bit, HEIC, bad EXIF) are re-saved by Pillow first."""
    try:
        return img2pdf.convert(str(path), rotation=img2pdf.Rotation.ifvalid)
    except Exception:
        pass
    _register_heif()
    frames: list[bytes] = []
    with Image.open(path) as im:
        for i in range(getattr(im, "n_frames", 1)):
            im.seek(i)
            dpi = im.info.get("dpi", (300, 300))
            try:
                frame = ImageOps.exif_transpose(im)
            except Exception:
                frame = im.copy()
            if frame.mode not in ("RGB", "L", "1"):
                frame = frame.convert("RGBA") if "A" in frame.mode or "transparency" in frame.info else frame
                if frame.mode == "RGBA":
                    flat = Image.new("RGB", frame.size, "white")
                    flat.paste(frame, mask=frame.split()[3])
                    frame = flat
                else:
                    frame = frame.convert("RGB")
            buf = io.BytesIO()
            if frame.mode == "1":
                frame.save(buf, format="TIFF", compression="group4", dpi=dpi)
            else:
                frame.save(buf, format="JPEG", quality=95, dpi=dpi)
            frames.append(buf.getvalue())
    return img2pdf.convert(frames)


@dataclass
class BaselineDoc:
    key: str
    merged: Path
    output: Path
    pages: list[tuple[str, int]]  # (source path relative to case, 0-based source page) in output order


def merge_documents(case: Path, work: Path) -> tuple[list[BaselineDoc], list[str]]:
    """One PDF per document for Ghostscript: PDFs copied page by page (pikepdf), images via img2pdf."""
    mapping = _case_mapping(case)
    groups: dict[str, list[Path]] = {}
    for path in case_inputs(case):
        groups.setdefault(document_key(case, path, mapping), []).append(path)
    docs: list[BaselineDoc] = []
    errors: list[str] = []
    work.mkdir(parents=True, exist_ok=True)
    for n, (key, files) in enumerate(sorted(groups.items())):
        merged = pikepdf.new()
        pages: list[tuple[str, int]] = []
        for path in files:
            rel = path.relative_to(case).as_posix()
            try:
                part = pikepdf.open(path) if _is_pdf(path) else pikepdf.open(_spooled(_image_to_pdf(path)))
                merged.pages.extend(part.pages)
                pages.extend((rel, i) for i in range(len(part.pages)))
            except Exception as e:  # a deliberately broken input: gs never sees it
                errors.append(f"{rel}: {type(e).__name__}: {e}"[:200])
        if not pages:
            continue
        safe = re.sub(r"[^A-Za-z0-9_-]+", "_", key)
        merged_path = work / f"{n:02d}-{safe}.in.pdf"
        merged.save(merged_path)
        docs.append(BaselineDoc(key, merged_path, work / f"{n:02d}-{safe}.pdf", pages))
    return docs, errors


def _spooled(data: bytes) -> io.BytesIO:
    return io.BytesIO(data)


def run_gs(docs: list[BaselineDoc], log: Path) -> RunStats:
    gs = shutil.which("gs") or "gs"
    cmds = [
        [gs, "-q", "-dNOPAUSE", "-dBATCH", "-dSAFER", "-sDEVICE=pdfwrite", "-dPDFSETTINGS=/ebook",
         f"-sOutputFile={d.output}", str(d.merged)]
        for d in docs
    ]  # fmt: skip
    # Largest first, so the two gs processes finish together (as packager's pool would).
    order = sorted(range(len(cmds)), key=lambda i: -docs[i].merged.stat().st_size)
    return run_measured([cmds[i] for i in order], JOBS, log)


# --- packager -----------------------------------------------------------------------------------


def run_packager(case: Path, out: Path, log: Path, limit_bytes: int | None = None) -> RunStats:
    if out.exists():
        shutil.rmtree(out)
    # Bytecode as `pip install` leaves it (it compiles at install): without it every run
    # recompiles the package, ~0.1 s, since this environment sets PYTHONDONTWRITEBYTECODE.
    compileall.compile_dir(PROJECT / "packager", quiet=1)
    cmd = [sys.executable, "-c", "import sys; from packager.cli import main; sys.exit(main())",
           "build", str(case), "--out", str(out)]  # fmt: skip
    if limit_bytes is not None:
        cmd += ["--limit", str(limit_bytes)]
    env = dict(os.environ, PYTHONPATH=str(PROJECT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return run_measured([cmd], 1, log, env=env)


# --- per-page measurement (runs in worker processes) ---------------------------------------------


def _pdf_page_in(path: str, index: int) -> tuple[float, float]:
    doc = pdfium.PdfDocument(path)
    try:
        w, h = doc[index].get_size()
        return w / 72.0, h / 72.0
    finally:
        doc.close()


def load_page(spec: PageSpec, dpi: float | None = None) -> Image.Image:
    """A page as greyscale pixels: PDF rendered at `dpi` (default: the spec's, its effective dpi),
    raster at its own pixels; capped at MAX_RENDER_PX."""
    kind, path, index, spec_dpi = spec
    cap = MAX_SSIM_PX if dpi is not None else MAX_RENDER_PX
    if kind == "pdf":
        stored = page_image(Path(path), index) if dpi is None else None
        if stored is not None:  # a scan page: OCR its stored pixels, as for a raster file
            return _shrink(stored, cap)
        d = dpi or spec_dpi
        w_in, h_in = _pdf_page_in(path, index)
        d = min(d, math.sqrt(cap / max(w_in * h_in, 1e-6)))
        return render_pdf_page(Path(path), index, d)
    # A raster page (photo.jpg, a corpus image) keeps its pixels unless above the cap.
    return _shrink(render_image_file(Path(path), index), cap)


def _shrink(image: Image.Image, cap_px: int) -> Image.Image:
    scale = min(1.0, math.sqrt(cap_px / (image.width * image.height)))
    if scale >= 1.0:
        return image
    dpi = image.info.get("dpi", (300.0, 300.0))[0] * scale
    image = image.resize((max(1, round(image.width * scale)), max(1, round(image.height * scale))))
    image.info["dpi"] = (dpi, dpi)
    return image


OCR_CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "packager-bench" / "ocr"


def cached_ocr(image: Image.Image) -> str:
    """tesseract's reading, cached by the exact pixels: generated sources and Ghostscript's
    outputs are deterministic, so a rerun only OCRs what changed (packager's pages)."""
    h = hashlib.sha256(f"{image.mode}{image.size}{image.info.get('dpi')}{TESSERACT}".encode())
    h.update(image.tobytes())
    path = OCR_CACHE / h.hexdigest()[:2] / f"{h.hexdigest()}.txt"
    if path.is_file():
        return path.read_text(encoding="utf-8")
    text = ocr_text(image)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    return text


def near_lossless(image: Image.Image) -> Image.Image:
    """The page re-encoded as JPEG q95 (4:4:4): no difference a reader can see. How far that
    alone moves tesseract's CER is the page's noise floor: a difference in CER smaller than
    it says nothing about legibility (a 49-character page flips 0% ↔ 22% on it)."""
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=95, subsampling=0)
    buf.seek(0)
    out = Image.open(buf)
    out.load()
    out.info["dpi"] = image.info.get("dpi", (300, 300))
    return out


def dithered(image: Image.Image) -> Image.Image:
    """The page with seeded ±1-level noise added: invisible, yet new pixels to tesseract."""
    grey_or_rgb = image if image.mode in ("L", "RGB") else image.convert("L")
    arr = np.asarray(grey_or_rgb, dtype=np.int16)
    noise = np.random.default_rng(0).integers(-1, 2, size=arr.shape, dtype=np.int16)
    out = Image.fromarray(np.clip(arr + noise, 0, 255).astype(np.uint8), grey_or_rgb.mode)
    out.info["dpi"] = image.info.get("dpi", (300, 300))
    return out


def robust_cer(reference: str, image: Image.Image) -> float:
    """Median CER over the page as it is, its q95 re-encode and its ±1 dither: one reading
    can flip a whole line (see near_lossless); the median of three needs two to flip."""
    cers = [character_error_rate(reference, cached_ocr(v)) for v in (image, near_lossless(image), dithered(image))]
    return statistics.median(cers)


def _fix_untrusted_dpi(image: Image.Image, path: Path, index: int, reference: PageSpec | None) -> None:
    """tesseract's --dpi hint moves its CER by several points (same pixels: 7% with the true dpi,
    20% without a hint, 69% against 0% on a map tagged differently), so the source must get its
    physical dpi. A raster file's tag below 150 dpi (72/96 on phone photos) or missing is not
    trusted: take the page width packager gave it, else fit the image to A4 (DESIGN §4)."""
    _register_heif()
    with Image.open(path) as im:
        if index:
            im.seek(index)
        tag = im.info.get("dpi")
    try:
        if tag and float(min(tag)) >= 150:
            return
    except (TypeError, ValueError):
        pass
    width_in = None
    if reference is not None and reference[0] == "pdf":
        w_in, h_in = _pdf_page_in(reference[1], reference[2])
        # the output page is upright like the EXIF-transposed source; match its orientation
        width_in = w_in if (w_in >= h_in) == (image.width >= image.height) else h_in
    if width_in is None:
        short, long_ = sorted((image.width, image.height))
        dpi = min(short / 8.27, long_ / 11.69)
    else:
        dpi = image.width / width_in
    image.info["dpi"] = (dpi, dpi)


def measure_page(task: dict[str, Any]) -> dict[str, Any]:
    """OCR the source page and each tool's output page; CER against the reference; SSIM at 150 dpi."""
    t0 = time.perf_counter()
    src_img = load_page(tuple(task["source"]))  # type: ignore[arg-type]
    if task["source"][0] == "image":
        _fix_untrusted_dpi(src_img, Path(task["source"][1]), task["source"][2], task["outputs"].get("packager"))
    src_text = cached_ocr(src_img)
    truth = task["truth"]
    reference = truth if truth is not None else src_text
    row: dict[str, Any] = {
        "source": task["rel"],
        "source_page": task["page"],
        "reference": "ground truth" if truth is not None else "source OCR",
        "packager_encoding": task.get("packager_encoding", ""),
        "reference_chars": len(normalise_text(reference)),
        "source_cer": character_error_rate(reference, src_text) if truth is not None else 0.0,
    }
    if task.get("extra_truth") is not None:  # corpus page with real ground truth as well
        row["source_cer_vs_ground_truth"] = character_error_rate(task["extra_truth"], src_text)
    row["noise_floor"] = abs(character_error_rate(reference, cached_ocr(near_lossless(src_img))) - row["source_cer"])
    robust = bool(task.get("robust")) and truth is not None
    if robust:
        row["source_cer_robust"] = robust_cer(reference, src_img)
    for tool, spec in task["outputs"].items():
        if spec is None:
            continue
        try:
            img = load_page(tuple(spec))  # type: ignore[arg-type]
            text = cached_ocr(img)
            cer = character_error_rate(reference, text)
            row[f"{tool}_cer"] = cer
            row[f"{tool}_cer_increase"] = cer - row["source_cer"]
            if robust and tool == "packager":
                row["packager_cer_increase_robust"] = robust_cer(reference, img) - row["source_cer_robust"]
            if task.get("extra_truth") is not None:
                row[f"{tool}_cer_vs_ground_truth"] = character_error_rate(task["extra_truth"], text)
            small = load_page(tuple(spec), dpi=SSIM_DPI)  # type: ignore[arg-type]
            row[f"{tool}_ssim"] = ssim(small, src_img)
        except Exception as e:
            row[f"{tool}_error"] = f"{type(e).__name__}: {e}"[:300]
    row["seconds"] = round(time.perf_counter() - t0, 2)
    return row


# --- one bundle ---------------------------------------------------------------------------------


@dataclass
class ToolResult:
    ok: bool = False
    error: str = ""
    bytes_: int = 0
    fits: bool = False
    min_dpi: float = math.nan
    pages_below_200: int = 0
    pages_out: int = 0
    mailed: list[str] = field(default_factory=list)
    cer_mean: float = math.nan
    cer_increase_mean: float = math.nan
    cer_increase_worst: float = math.nan
    # worst over the pages whose noise floor is at most NOISE_RESOLVES (the measure can tell 3 pp there)
    cer_increase_worst_resolved: float = math.nan
    # --robust: median over three near-lossless variants of source and output page (packager only)
    cer_increase_mean_robust: float = math.nan
    cer_increase_worst_robust: float = math.nan
    # DESIGN §5: the worst-page limit applies to measurable pages (see measurable())
    measurable_pages: int = 0
    cer_increase_worst_measurable: float = math.nan
    ssim_mean: float = math.nan
    ssim_worst: float = math.nan
    wall_s: float = 0.0
    prep_s: float = 0.0  # gs only: merging the case into one PDF per document (not in wall_s)
    pages_per_s: float = 0.0
    max_rss_mb: float = 0.0
    tree_rss_mb: float = 0.0


def _dir_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) if folder.is_dir() else 0


def _pdf_dpis(pdfs: Sequence[Path]) -> dict[Path, list[float]]:
    out: dict[Path, list[float]] = {}
    for p in pdfs:
        try:
            out[p] = effective_dpi_of_pdf(p)
        except Exception:
            out[p] = []
    return out


def _dpi_summary(dpis: dict[Path, list[float]]) -> tuple[float, int, int]:
    values = [d for ds in dpis.values() for d in ds if math.isfinite(d)]
    pages = sum(len(ds) for ds in dpis.values())
    return (min(values) if values else math.nan), sum(1 for d in values if d < 199.5), pages


def _render_dpi(eff: float) -> float:
    # OCR an output page at its own image resolution; vector-only pages at 300 dpi.
    return 300.0 if not math.isfinite(eff) else max(72.0, min(eff, 600.0))


def packager_encodings(manifest: dict[str, Any]) -> dict[tuple[str, int], str]:
    """(source, source page) → packager's encoding label (and 'mail:' when mailed)."""
    labels: dict[tuple[str, int], str] = {}
    for output in manifest.get("outputs", []):
        prefix = "mail:" if output.get("destination") == "mail" else ""
        for page in output.get("pages", []):
            labels[(page["source"], int(page["source_page"]))] = prefix + str(page.get("encoding", "?"))
    return labels


def packager_page_map(out: Path, manifest: dict[str, Any]) -> tuple[dict[tuple[str, int], PageSpec], list[str]]:
    specs: dict[tuple[str, int], PageSpec] = {}
    mailed: list[str] = []
    for output in manifest.get("outputs", []):
        path = out / output["path"]
        if output.get("destination") == "mail":
            mailed.append(output.get("document", output["path"]))
        if output.get("destination") != "upload" or not path.is_file():
            continue
        is_pdf = path.suffix.lower() == ".pdf"
        dpis = effective_dpi_of_pdf(path) if is_pdf else []
        for i, page in enumerate(output.get("pages", [])):
            if is_pdf:
                eff = dpis[i] if i < len(dpis) else math.inf
                # An MRC page's text is its mask's resolution (the manifest's dpi), above its
                # background's: read it at that.
                eff = max(eff, float(page.get("dpi", 0.0))) if math.isfinite(eff) else eff
                specs[(page["source"], int(page["source_page"]))] = ("pdf", str(path), i, _render_dpi(eff))
            else:
                specs[(page["source"], int(page["source_page"]))] = ("image", str(path), 0, 0.0)
    return specs, mailed


def gs_page_map(docs: list[BaselineDoc]) -> dict[tuple[str, int], PageSpec]:
    specs: dict[tuple[str, int], PageSpec] = {}
    for d in docs:
        if not d.output.is_file():
            continue
        dpis = effective_dpi_of_pdf(d.output)
        for i, (rel, page) in enumerate(d.pages):
            if i < len(dpis):
                specs[(rel, page)] = ("pdf", str(d.output), i, _render_dpi(dpis[i]))
    return specs


def source_spec(case: Path, rel: str, page: int, dpi_cache: dict[str, list[float]]) -> PageSpec:
    path = case / rel
    if _is_pdf(path):
        if rel not in dpi_cache:
            dpi_cache[rel] = effective_dpi_of_pdf(path)
        dpis = dpi_cache[rel]
        return ("pdf", str(path), page, _render_dpi(dpis[page] if page < len(dpis) else math.inf))
    return ("image", str(path), page, 0.0)


def sample_pages(pages: list[tuple[str, int]], truth: dict[str, list[str]] | None, every: int) -> list[tuple[str, int]]:
    """Every `every`-th page, counted over pages in (natural file name, page) order that have
    reference text (generated: non-empty ground truth; corpus: all)."""
    ordered = sorted(pages, key=lambda rp: (_natural_key(rp[0]), rp[1]))
    if truth is not None:
        ordered = [rp for rp in ordered if rp[1] < len(truth.get(rp[0], [])) and normalise_text(truth[rp[0]][rp[1]])]
    return ordered[:: max(1, every)]


def _page_line(row: dict[str, Any]) -> str:
    def pct(key: str) -> str:
        return f"{row[key] * 100:5.1f}%" if key in row else "    — "

    return (
        f"{row['source']}#{row['source_page']}: {row.get('reference_chars', 0)} chars, CER source {pct('source_cer')}"
        f" packager {pct('packager_cer')} [{row.get('packager_encoding', '')}] gs {pct('gs_cer')}"
        f" ({row.get('seconds', 0):.0f} s)"
        + "".join(f" {k}={row[k][:80]}" for k in ("error", "packager_error", "gs_error") if k in row)
    )


MIN_SOURCE_OCR_CHARS = 30  # a real scan whose OCR reads fewer characters has no text to compare


def _counts(row: dict[str, Any]) -> bool:
    """Whether a page's CER enters the means: ground truth with text, or a source OCR of at least
    MIN_SOURCE_OCR_CHARS characters (c02_unpaper, a colour test sheet, reads 25 stray characters)."""
    chars = int(row.get("reference_chars", 0))
    return chars > 0 if row.get("reference") == "ground truth" else chars >= MIN_SOURCE_OCR_CHARS


NOISE_RESOLVES = 0.01  # a page whose near-lossless copy moves CER by ≤ 1 pp can resolve a 3 pp increase
# DESIGN §5: a page is measurable when its reference has at least this many characters and the
# source's own CER is at most MAX_SOURCE_CER (one missed title line on a 49-character page is
# 20 pp of layout-analysis noise, not a loss a reader sees).
MIN_MEASURABLE_CHARS = 100
MAX_SOURCE_CER = 0.20


def page_increase(row: dict[str, Any], tool: str = "packager") -> float | None:
    """A page's ΔCER: the median over three near-lossless variants where measured (--robust)."""
    value = row.get(f"{tool}_cer_increase_robust", row.get(f"{tool}_cer_increase"))
    return None if value is None else float(value)


def measurable(row: dict[str, Any]) -> bool:
    source = row.get("source_cer_robust", row.get("source_cer", 1.0))
    return int(row.get("reference_chars", 0)) >= MIN_MEASURABLE_CHARS and source <= MAX_SOURCE_CER


def _agg(rows: list[dict[str, Any]], tool: str, res: ToolResult) -> None:
    measured = [r for r in rows if f"{tool}_cer" in r and _counts(r)]
    if measured:
        res.cer_mean = statistics.fmean(r[f"{tool}_cer"] for r in measured)
        incs = [r[f"{tool}_cer_increase"] for r in measured]
        res.cer_increase_mean = statistics.fmean(incs)
        res.cer_increase_worst = max(incs)
        resolved = [r[f"{tool}_cer_increase"] for r in measured if r.get("noise_floor", 1.0) <= NOISE_RESOLVES]
        res.cer_increase_worst_resolved = max(resolved, default=math.nan)
        robust = [r[f"{tool}_cer_increase_robust"] for r in measured if f"{tool}_cer_increase_robust" in r]
        if robust:
            res.cer_increase_mean_robust = statistics.fmean(robust)
            res.cer_increase_worst_robust = max(robust)
        judged = [v for r in measured if measurable(r) and (v := page_increase(r, tool)) is not None]
        res.measurable_pages = len(judged)
        res.cer_increase_worst_measurable = max(judged, default=math.nan)
        ssims = [r[f"{tool}_ssim"] for r in measured if math.isfinite(r.get(f"{tool}_ssim", math.nan))]
        if ssims:
            res.ssim_mean = statistics.fmean(ssims)
            res.ssim_worst = min(ssims)


def bench_case(
    name: str,
    case: Path,
    work: Path,
    truth: dict[str, list[str]] | None,
    every: int,
    extra_truth: dict[str, str] | None = None,
    robust: bool = False,
    limit_bytes: int = LIMIT_BYTES,
    sheet: Path | None = None,
) -> dict[str, Any]:
    """Run both tools on `case` and measure them. `truth` None: the source's OCR is the reference."""
    print(f"[{name}] case {case}", flush=True)
    inputs = case_inputs(case)
    page_counts = {p.relative_to(case).as_posix(): source_page_count(p) for p in inputs}
    all_pages = [(rel, i) for rel, n in page_counts.items() for i in range(n)]
    raw_bytes = sum(p.stat().st_size for p in inputs)

    # packager
    pk = ToolResult()
    out = work / f"{name}-packager-out"
    print(f"[{name}] packager build ({len(all_pages)} pages, {raw_bytes / 1e6:.1f} MB raw)", flush=True)
    load_before = {"packager": os.getloadavg()[0]}
    stats = run_packager(case, out, work / f"{name}-packager", limit_bytes if limit_bytes != LIMIT_BYTES else None)
    pk.wall_s, pk.max_rss_mb, pk.tree_rss_mb = stats.wall_s, stats.max_rss_mb, stats.tree_rss_mb
    manifest_path = out / "manifest.json"
    pk_specs: dict[tuple[str, int], PageSpec] = {}
    manifest: dict[str, Any] = {}
    rc = stats.returncodes[0] if stats.returncodes else -1
    if rc in (0, 3) and manifest_path.is_file():
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        pk.ok = True
        pk.error = "" if rc == 0 else "exit 3: some inputs rejected"
        pk.bytes_ = _dir_bytes(out / "upload")
        pk.fits = pk.bytes_ <= limit_bytes
        pdfs = sorted((out / "upload").glob("*.pdf"))
        pk.min_dpi, pk.pages_below_200, pk.pages_out = _dpi_summary(_pdf_dpis(pdfs))
        pk_specs, pk.mailed = packager_page_map(out, manifest)
        if manifest.get("upload_bytes") not in (None, pk.bytes_):
            pk.error += f" (manifest upload_bytes {manifest.get('upload_bytes')} ≠ {pk.bytes_} on disk)"
    else:
        pk.error = f"exit {rc}: " + (stats.stderr_tail.strip().splitlines() or ["no manifest"])[-1][:300]
    pk.pages_per_s = len(all_pages) / pk.wall_s if pk.ok and pk.wall_s else 0.0

    # Ghostscript /ebook
    gs = ToolResult()
    print(f"[{name}] gs /ebook", flush=True)
    t0 = time.perf_counter()
    docs, merge_errors = merge_documents(case, work / f"{name}-gs")
    gs.prep_s = time.perf_counter() - t0
    load_before["gs"] = os.getloadavg()[0]
    gstats = run_gs(docs, work / f"{name}-gs.log")
    gs.wall_s, gs.max_rss_mb, gs.tree_rss_mb = gstats.wall_s, gstats.max_rss_mb, gstats.tree_rss_mb
    gs.ok = bool(docs) and all(r == 0 for r in gstats.returncodes)
    gs.error = "; ".join(merge_errors)[:300] + (f" gs: {gstats.stderr_tail[-200:]}" if not gs.ok else "")
    gs_pdfs = [d.output for d in docs if d.output.is_file()]
    gs.bytes_ = sum(p.stat().st_size for p in gs_pdfs)
    gs.fits = gs.ok and gs.bytes_ <= limit_bytes
    gs.min_dpi, gs.pages_below_200, gs.pages_out = _dpi_summary(_pdf_dpis(gs_pdfs))
    gs.pages_per_s = sum(len(d.pages) for d in docs) / gs.wall_s if gs.wall_s else 0.0
    gs_specs = gs_page_map(docs)

    # legibility on sampled pages, 2 processes
    sampled = sample_pages(all_pages, truth, every)
    dpi_cache: dict[str, list[float]] = {}
    pk_labels = packager_encodings(manifest)
    tasks = [
        {
            "rel": rel,
            "page": page,
            "source": source_spec(case, rel, page, dpi_cache),
            "truth": truth[rel][page] if truth is not None else None,
            "extra_truth": (extra_truth or {}).get(rel),
            "outputs": {"packager": pk_specs.get((rel, page)), "gs": gs_specs.get((rel, page))},
            "packager_encoding": pk_labels.get((rel, page), ""),
            "robust": robust,
        }
        for rel, page in sampled
    ]
    print(f"[{name}] OCR of {len(tasks)} sampled pages × (source, packager, gs), {JOBS} processes", flush=True)
    t0 = time.perf_counter()
    rows: list[dict[str, Any]] = []
    with ProcessPoolExecutor(max_workers=JOBS) as pool:
        for task, fut in [(t, pool.submit(measure_page, t)) for t in tasks]:
            try:
                rows.append(fut.result())
            except Exception as e:
                rows.append({"source": task["rel"], "source_page": task["page"], "error": f"{type(e).__name__}: {e}"})
            print("  " + _page_line(rows[-1]), flush=True)
    ocr_s = time.perf_counter() - t0
    if sheet is not None and rows:
        write_worst_sheet(rows, {(t["rel"], t["page"]): t for t in tasks}, sheet)
    _agg(rows, "packager", pk)
    _agg(rows, "gs", gs)
    missing = [f"{r['source']}#{r['source_page']}" for r in rows if "packager_cer" not in r and pk.ok]
    return {
        "bundle": name,
        "case": str(case),
        "inputs": len(inputs),
        "source_pages": len(all_pages),
        "raw_bytes": raw_bytes,
        "limit_bytes": limit_bytes,
        "load_average_before": load_before,  # 1-minute load of the machine: others' work skews times
        "sampled_pages": len(tasks),
        "ocr_every": every,
        "ocr_seconds": round(ocr_s, 1),
        "packager": asdict(pk),
        "gs": asdict(gs),
        "time_ratio": (pk.wall_s / gs.wall_s) if pk.ok and gs.wall_s else math.nan,
        "time_ratio_incl_merge": (pk.wall_s / (gs.wall_s + gs.prep_s)) if pk.ok and gs.wall_s else math.nan,
        "packager_pages_missing_from_manifest": missing,
        "manifest_rejections": [i for i in manifest.get("inputs", []) if i.get("status") == "rejected"],
        "pages": rows,
    }


# --- the contact sheet of the worst pages ---------------------------------------------------------

SHEET_PAGES = 8  # DESIGN §5: the eight worst pages of each bundle, measurable or not
SHEET_DPI = 200  # crops shown at this resolution: 6.5 pt print stays readable to a person
CROP_IN = (3.2, 1.6)  # width × height of each crop, inches of paper


def _worst_window(src: Image.Image, out: Image.Image) -> tuple[float, float]:
    """Where (fractions of the page) source and output differ most on text: the crop to show."""
    from PIL import ImageFilter

    size = (max(1, src.width // 4), max(1, src.height // 4))
    small = src.convert("L").resize(size, Image.Resampling.BOX)
    a = np.asarray(small, dtype=np.float32)
    b = np.asarray(out.convert("L").resize(size, Image.Resampling.BOX), dtype=np.float32)
    # Text, not photos: strong local contrast (a smooth photo has little, strokes have much).
    # There, the difference, plus a little of the ink itself, so that where the output is the
    # source (an original kept) the crop still shows text rather than empty paper.
    edges = np.abs(a - np.asarray(small.filter(ImageFilter.BoxBlur(2)), dtype=np.float32))
    text = (edges > 12) & (a < 200)
    score = (np.abs(a - b) + 0.05 * (255 - a)) * text
    win_w = max(1, min(size[0], round(size[0] * CROP_IN[0] / 8.27)))
    win_h = max(1, min(size[1], round(size[1] * CROP_IN[1] / 11.69)))
    c = np.cumsum(np.cumsum(np.pad(score, ((1, 0), (1, 0))), axis=0), axis=1)
    sums = c[win_h:, win_w:] - c[:-win_h, win_w:] - c[win_h:, :-win_w] + c[:-win_h, :-win_w]
    if sums.size == 0:
        return 0.0, 0.0
    y, x = np.unravel_index(int(np.argmax(sums)), sums.shape)
    return x / size[0], y / size[1]


def write_worst_sheet(rows: list[dict[str, Any]], tasks: dict[tuple[str, int], dict[str, Any]], path: Path) -> None:
    """worst.png: for the SHEET_PAGES pages with the largest packager ΔCER, the source crop beside
    packager's crop of the same place (where they differ most), with the numbers above."""
    from PIL import ImageDraw

    from fixtures.pages import font

    judged = [(v, r) for r in rows if (v := page_increase(r)) is not None]
    judged.sort(key=lambda vr: -vr[0])
    tiles: list[Image.Image] = []
    label_font = font("gothic", 22)
    for value, row in judged[:SHEET_PAGES]:
        task = tasks[(row["source"], row["source_page"])]
        src = load_page(tuple(task["source"]), dpi=SHEET_DPI)  # type: ignore[arg-type]
        out = load_page(tuple(task["outputs"]["packager"]), dpi=SHEET_DPI)  # type: ignore[arg-type]
        # The output is rendered at SHEET_DPI; a raster source comes at its own pixels: match it.
        src = src.resize(out.size, Image.Resampling.BOX) if src.size != out.size else src
        fx, fy = _worst_window(src, out)
        w_px, h_px = round(CROP_IN[0] * SHEET_DPI), round(CROP_IN[1] * SHEET_DPI)
        box = (round(fx * src.width), round(fy * src.height))
        box4 = (box[0], box[1], box[0] + w_px, box[1] + h_px)
        tile = Image.new("L", (2 * w_px + 30, h_px + 40), 255)
        tile.paste(src.crop(box4), (0, 40))
        tile.paste(out.crop(box4), (w_px + 30, 40))
        text = (
            f"{row['source']} p{row['source_page'] + 1}  {row.get('packager_encoding', '')}  ΔCER {value * 100:+.1f}pp"
            f"  (source {row.get('source_cer_robust', row.get('source_cer', 0)) * 100:.0f}%, "
            f"{row.get('reference_chars', 0)} chars{'' if measurable(row) else ', not measurable'})"
        )
        ImageDraw.Draw(tile).text((4, 6), text + "   [source | packager]", font=label_font, fill=0)
        tiles.append(tile)
    if not tiles:
        return
    sheet = Image.new("L", (max(t.width for t in tiles), sum(t.height + 10 for t in tiles)), 200)
    y = 0
    for t in tiles:
        sheet.paste(t, (0, y))
        y += t.height + 10
    path.parent.mkdir(parents=True, exist_ok=True)
    # 16 grey levels, 4 bits a pixel: as legible to a person, a third of the file (it is committed).
    sheet.point(lambda v: v // 17).save(path, optimize=True, bits=4)


# --- reporting ----------------------------------------------------------------------------------


def _f(x: float, fmt: str) -> str:
    return "—" if x is None or (isinstance(x, float) and not math.isfinite(x)) else format(x, fmt)


def format_bundle(r: dict[str, Any]) -> str:
    head = (
        f"\n== {r['bundle']}: {r['inputs']} files, {r['source_pages']} pages, {r['raw_bytes'] / 1e6:.1f} MB raw; "
        f"OCR on {r['sampled_pages']} pages (every {r['ocr_every']}) =="
    )
    cols = ["tool", "bytes", "fits 25MB", "min dpi", "<200", "CER", "ΔCER mean", "ΔCER worst", "SSIM",
            "wall s", "pages/s", "RSS MB", "tree MB"]  # fmt: skip
    lines = [head, "  ".join(f"{c:>10}" for c in cols)]
    for tool in ("packager", "gs"):
        t = r[tool]
        cells = [
            tool,
            f"{t['bytes_']:,}" if t["ok"] else "failed",
            ("yes" if t["fits"] else "NO") if t["ok"] else "—",
            _f(t["min_dpi"], ".0f"),
            str(t["pages_below_200"]),
            _f(t["cer_mean"] * 100, ".1f") + "%" if math.isfinite(t["cer_mean"]) else "—",
            _f(t["cer_increase_mean"] * 100, "+.2f") + "pp" if math.isfinite(t["cer_increase_mean"]) else "—",
            _f(t["cer_increase_worst"] * 100, "+.2f") + "pp" if math.isfinite(t["cer_increase_worst"]) else "—",
            _f(t["ssim_mean"], ".3f"),
            _f(t["wall_s"], ".1f"),
            _f(t["pages_per_s"], ".2f"),
            _f(t["max_rss_mb"], ".0f"),
            _f(t["tree_rss_mb"], ".0f"),
        ]
        lines.append("  ".join(f"{c:>10}" for c in cells))
    p, g = r["packager"], r["gs"]
    lines.append(
        f"time ratio packager/gs: {_f(r['time_ratio'], '.2f')} "
        f"(with gs's merge step {g['prep_s']:.1f} s counted: {_f(r['time_ratio_incl_merge'], '.2f')})"
    )
    load = r.get("load_average_before", {})
    if load:
        lines.append("1-min load average before each run: " + ", ".join(f"{k} {v:.1f}" for k, v in load.items()))
    src = [row["source_cer"] for row in r["pages"] if "source_cer" in row and row["reference"] == "ground truth"]
    if src:
        lines.append(f"source pages' own CER vs ground truth: mean {statistics.fmean(src) * 100:.1f}%")
    noise = [row["noise_floor"] for row in r["pages"] if "noise_floor" in row and _counts(row)]
    if noise:
        resolved = sum(n <= NOISE_RESOLVES for n in noise)
        worst = ", ".join(
            f"{t} {_f(r[t].get('cer_increase_worst_resolved', math.nan) * 100, '+.2f')}pp" for t in ("packager", "gs")
        )
        lines.append(
            f"OCR noise floor (CER moved by a q95 re-encode of the source): mean {statistics.fmean(noise) * 100:.2f}pp,"
            f" worst {max(noise) * 100:.1f}pp; {sum(n > 0.03 for n in noise)} of {len(noise)} pages above 3pp."
            f" ΔCER worst where the floor is ≤ {NOISE_RESOLVES * 100:.0f}pp ({resolved} pages): {worst}"
        )
    p_robust = r["packager"].get("cer_increase_worst_robust", math.nan)
    if math.isfinite(p_robust):
        over = [
            f"{row['source']}#{row['source_page']} {row['packager_cer_increase_robust'] * 100:+.1f}pp"
            for row in r["pages"]
            if row.get("packager_cer_increase_robust", 0.0) > 0.03
        ]
        lines.append(
            f"robust ΔCER (median of 3 near-lossless variants of source and output): packager mean "
            f"{r['packager']['cer_increase_mean_robust'] * 100:+.2f}pp, worst {p_robust * 100:+.2f}pp; "
            f"above 3pp: {', '.join(over) or 'none'}"
        )
    if "measurable_pages" in p:
        others = [
            f"{row['source']}#{row['source_page']} ({row.get('reference_chars', 0)} chars, source "
            f"{row.get('source_cer_robust', row.get('source_cer', math.nan)) * 100:.0f}%, "
            f"Δ {(page_increase(row) or 0.0) * 100:+.1f}pp)"
            for row in r["pages"]
            if "packager_cer" in row and _counts(row) and not measurable(row)
        ]
        lines.append(
            f"legibility rule (DESIGN §5): packager worst ΔCER over the {p['measurable_pages']} measurable pages "
            f"(≥ {MIN_MEASURABLE_CHARS} chars, source CER ≤ {MAX_SOURCE_CER * 100:.0f}%): "
            f"{_f(p['cer_increase_worst_measurable'] * 100, '+.2f')}pp; not measurable: {', '.join(others) or 'none'}"
        )
    by_enc: dict[str, list[float]] = {}
    for row in r["pages"]:
        if "packager_cer_increase" in row and _counts(row):
            by_enc.setdefault(row.get("packager_encoding") or "?", []).append(row["packager_cer_increase"])
    if by_enc:
        lines.append(
            "packager ΔCER by encoding: "
            + "; ".join(
                f"{enc} n={len(v)} mean {statistics.fmean(v) * 100:+.2f}pp worst {max(v) * 100:+.2f}pp"
                for enc, v in sorted(by_enc.items())
            )
        )
    if p["mailed"]:
        lines.append(f"packager mailed: {', '.join(p['mailed'])}")
    for tool in ("packager", "gs"):
        if r[tool]["error"].strip():
            lines.append(f"{tool}: {r[tool]['error'].strip()}")
    return "\n".join(lines)


def format_corpus_files(r: dict[str, Any]) -> str:
    """Per corpus file: packager's bytes and dpi for its pages, CER increase and SSIM per tool."""
    per_file: dict[str, list[dict[str, Any]]] = {}
    for row in r["pages"]:
        per_file.setdefault(row["source"], []).append(row)
    cols = ["file", "pages", "pk ΔCER", "gs ΔCER", "pk SSIM", "gs SSIM", "note"]
    lines = ["", f"{cols[0]:<28}" + "".join(f"{c:>10}" for c in cols[1:6]) + "  note"]
    for name, rows in sorted(per_file.items()):

        def worst(key: str, rows: list[dict[str, Any]] = rows) -> str:
            vals = [x[key] for x in rows if key in x and _counts(x)]
            return f"{max(vals) * 100:+.1f}pp" if vals else "—"

        def low(key: str, rows: list[dict[str, Any]] = rows) -> str:
            vals = [x[key] for x in rows if key in x and math.isfinite(x[key])]
            return f"{min(vals):.3f}" if vals else "—"

        notes = []
        for x in rows:
            if not _counts(x):
                notes.append(f"source OCR read {x.get('reference_chars', 0)} chars: not counted")
            for k in ("packager_error", "gs_error", "error"):
                if k in x:
                    notes.append(f"{k}: {x[k][:60]}")
            if "packager_cer_vs_ground_truth" in x:
                notes.append(
                    f"vs GT: src {x['source_cer_vs_ground_truth'] * 100:.1f}% "
                    f"pk {x['packager_cer_vs_ground_truth'] * 100:.1f}% "
                    f"gs {x.get('gs_cer_vs_ground_truth', math.nan) * 100:.1f}%"
                )
        rejected = [i.get("reason", "") for i in r["manifest_rejections"] if i.get("path") == name]
        if rejected:
            notes.append(f"rejected: {rejected[0][:60]}")
        elif r["packager"]["ok"] and any("packager_cer" not in x for x in rows):
            notes.append("not in packager upload")
        cells = [str(len(rows)), worst("packager_cer_increase"), worst("gs_cer_increase"),
                 low("packager_ssim"), low("gs_ssim")]  # fmt: skip
        lines.append(f"{name:<28}" + "".join(f"{c:>10}" for c in cells) + "  " + "; ".join(dict.fromkeys(notes)))
    return "\n".join(lines)


# --- main ---------------------------------------------------------------------------------------


def generate(size: str, work: Path, seed: int) -> tuple[Path, dict[str, list[str]]]:
    from fixtures.generate import make_case

    case = work / f"{size}-case"
    if case.exists():
        shutil.rmtree(case)
    truth_path = Path(make_case(size, case, seed))
    return case, page_texts(json.loads(truth_path.read_text(encoding="utf-8")))


def page_texts(truth: dict[str, Any]) -> dict[str, list[str]]:
    """{file: [page text, …]} from the generator's truth JSON (its "files" list, or that mapping already)."""
    if "files" not in truth:
        return {str(k): [str(t) for t in v] for k, v in truth.items() if isinstance(v, list)}
    texts: dict[str, list[str]] = {}
    for entry in truth["files"]:
        pages = sorted(entry.get("pages", []), key=lambda pg: int(pg.get("page_index", 0)))
        texts[str(entry["path"])] = [str(pg.get("text", "")) for pg in pages]
    return texts


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="small,typical,heavy", help="generated bundles to run ('' for none)")
    ap.add_argument("--corpus", action="store_true", help="also run on ../shared/corpus")
    ap.add_argument("--out", type=Path, default=PROJECT / "bench" / "results", help="folder for the JSON results")
    ap.add_argument("--work", type=Path, default=None, help="scratch folder (default: a temporary one, removed)")
    ap.add_argument("--ocr-every", type=int, default=None, help="OCR every Nth page (default: 1 small, 4 others)")
    ap.add_argument("--keep", action="store_true", help="keep the scratch folder")
    ap.add_argument(
        "--robust", action="store_true", help="also the median CER over 3 near-lossless variants (3× the OCR)"
    )
    ap.add_argument("--no-ocr-cache", action="store_true", help=f"do not reuse OCR results from {OCR_CACHE}")
    ap.add_argument("--limit", type=int, default=LIMIT_BYTES, help="packager's upload limit in bytes (default 25 MB)")
    ap.add_argument("--sheets", type=Path, default=None, help="write <bundle>-worst.png contact sheets here")
    args = ap.parse_args(argv)

    if args.no_ocr_cache:
        shutil.rmtree(OCR_CACHE, ignore_errors=True)
    sizes = [s for s in args.sizes.split(",") if s.strip()]
    args.out.mkdir(parents=True, exist_ok=True)
    scratch = args.work or Path(tempfile.mkdtemp(prefix="packager-bench-"))
    scratch.mkdir(parents=True, exist_ok=True)
    results = []
    try:
        for size in sizes:
            work = scratch / size
            work.mkdir(parents=True, exist_ok=True)
            t0 = time.perf_counter()
            try:
                case, truth = generate(size, work, SEEDS.get(size, 0))
            except Exception as e:
                print(f"[{size}] generating failed: {type(e).__name__}: {e}", flush=True)
                results.append({"bundle": size, "error": f"generate: {type(e).__name__}: {e}"})
                continue
            print(f"[{size}] generated in {time.perf_counter() - t0:.1f} s", flush=True)
            name = size if args.limit == LIMIT_BYTES else f"{size}@{args.limit // 1_000_000}MB"
            sheet = args.sheets / f"worst-{name}.png" if args.sheets else None
            r = bench_case(name, case, work, truth, args.ocr_every or OCR_EVERY.get(size, 4), robust=args.robust,
                           limit_bytes=args.limit, sheet=sheet)  # fmt: skip
            results.append(r)
            print(format_bundle(r), flush=True)
            (args.out / f"{name}.json").write_text(json.dumps(r, indent=1, ensure_ascii=False, default=str))
        if args.corpus:
            work = scratch / "corpus"
            case, files = prepare_corpus_case(work)
            extra = {f.name: f.ground_truth for f in files if f.ground_truth}
            r = bench_case("corpus", case, work, None, args.ocr_every or OCR_EVERY["corpus"], extra_truth=extra)
            results.append(r)
            print(format_bundle(r) + format_corpus_files(r), flush=True)
            (args.out / "corpus.json").write_text(json.dumps(r, indent=1, ensure_ascii=False, default=str))
    finally:
        if not args.keep and args.work is None:
            shutil.rmtree(scratch, ignore_errors=True)
        else:
            print(f"scratch kept in {scratch}")
    print("\n\n".join(format_bundle(r) for r in results if "packager" in r))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""cli: as the program, the process ends without the interpreter's teardown (cli._end_now) —
with its output whole and its exit code the command's."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from packager.cli import main


def _program(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    code = "import sys; from packager.cli import main; sys.exit(main())"
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=cwd, timeout=120)


def test_the_program_ends_with_its_output_whole_and_the_commands_exit_code(tmp_path: Path) -> None:
    listed = _program("profiles", cwd=tmp_path)
    assert listed.returncode == 0
    in_process = subprocess.run(  # the same table, printed by a main() that returns
        [sys.executable, "-c", "from packager.cli import main; main(['profiles'])"],
        capture_output=True, text=True, cwd=tmp_path, timeout=120,
    )
    assert listed.stdout == in_process.stdout and listed.stdout.count("\n") > 1
    missing = _program("build", str(tmp_path / "no-such-case"), "--out", str(tmp_path / "out"), cwd=tmp_path)
    assert missing.returncode == 2 and "no such case folder" in missing.stderr


def test_main_called_with_arguments_returns(tmp_path: Path) -> None:
    assert main(["build", str(tmp_path / "no-such-case"), "--out", str(tmp_path / "out")]) == 2


def test_a_heic_photo_builds_though_its_opener_is_registered_only_when_needed(tmp_path: Path) -> None:
    """pillow_heif is imported only for a case that has a HEIC file (~11 ms at every start
    otherwise): a fresh process without one never imports it; one with one reads it."""
    import json

    from pillow_heif import register_heif_opener

    from fixtures.pages import text_page

    quiet = subprocess.run([sys.executable, "-c", "import sys, packager.api; print('pillow_heif' in sys.modules)"],
                           capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert quiet.stdout.strip() == "False"
    register_heif_opener()
    case = tmp_path / "case"
    case.mkdir()
    image, _ = text_page(300, seed=3, pt=10, size_mm=(105, 148))
    image.convert("RGB").save(case / "passport.heic", quality=80)
    built = _program("build", str(case), "--out", str(tmp_path / "out"), "--quiet", cwd=tmp_path)
    assert built.returncode == 0, built.stderr
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text("utf-8"))
    inputs = [(i["path"], i["status"], i["format"]) for i in manifest["inputs"]]
    assert inputs == [("passport.heic", "accepted", "heif")]
    assert [len(o["pages"]) for o in manifest["outputs"]] == [1]

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

"""The command line: arguments → one frozen options value → one library call.

One boundary turns a PackagerError into one line on stderr and its exit code; `-v`
adds the traceback. Usage errors exit 2 (argparse); see README.md for every code.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import datetime as dt
import os
import sys
import threading
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from packager import __version__
from packager.errors import ExitCode, PackagerError
from packager.options import BuildOptions, parse_size


def _size(text: str) -> int:
    try:
        return parse_size(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from e


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from e


def _build_options(args: argparse.Namespace) -> BuildOptions:
    return BuildOptions(
        profile=args.profile, limit_bytes=args.limit, keep_blank_pages=args.keep_blank_pages, jobs=args.jobs
    )


def _add_build_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--profile", default="isa-2026", help="system profile name or TOML path (default: isa-2026)")
    p.add_argument("--limit", type=_size, default=None, help="upload limit: bytes or 25MB, 8MB (decimal)")
    p.add_argument("--keep-blank-pages", action="store_true", help="keep blank backs of duplex scans")
    p.add_argument("--jobs", type=int, default=0, help="worker processes (default: one per core)")


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="packager",
        description="Fit scanned documents into the Online Residence Application System's upload.",
    )
    parser.add_argument("--version", action="version", version=f"packager {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="show tracebacks of errors")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("build", help="package a case folder into OUT/upload (and OUT/mail)")
    p.add_argument("case_dir", type=Path, metavar="CASE_DIR")
    p.add_argument("--out", type=Path, required=True, metavar="OUT")
    _add_build_options(p)
    p.add_argument("--quiet", action="store_true", help="no summary table or progress bar")
    p.set_defaults(func=_cmd_build)

    p = sub.add_parser("check", help="check a case before building: eligibility, checklist, photo, size")
    p.add_argument("case_dir", type=Path, metavar="CASE_DIR")
    _add_build_options(p)
    p.set_defaults(func=_cmd_check)

    p = sub.add_parser("stamp", help="stamp the mailed set with the application receipt number")
    p.add_argument("out_dir", type=Path, metavar="OUT")
    p.add_argument("--receipt", required=True, help="application receipt number (申請受付番号), as issued")
    p.add_argument("--date", type=_date, default=None, help="filing date YYYY-MM-DD")
    p.set_defaults(func=_cmd_stamp)

    p = sub.add_parser("cases", help="list the cases of an OUTBOX (or an OUT folder) and their state")
    p.add_argument("outbox", type=Path, metavar="OUTBOX")
    p.set_defaults(func=_cmd_cases)

    p = sub.add_parser("watch", help="watch a drop folder and package every settled case")
    p.add_argument("inbox", type=Path, metavar="INBOX")
    p.add_argument("--out", type=Path, required=True, metavar="OUTBOX")
    p.add_argument("--settle", type=float, default=60.0, help="seconds of no change before a case is ready")
    p.add_argument("--polling", action="store_true", help="poll the folder (network shares, no inotify)")
    p.add_argument("--workers", type=int, default=1, help="cases packaged at once")
    p.add_argument("--log-json", action="store_true", help="log one JSON object per line")
    _add_build_options(p)
    p.set_defaults(func=_cmd_watch)

    p = sub.add_parser("desk", help="the staff desk in the browser over an OUTBOX (docs/desk.md)")
    p.add_argument("outbox", type=Path, metavar="OUTBOX")
    p.add_argument("--inbox", type=Path, default=None, metavar="INBOX", help="take new cases from the browser")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8765, help="TCP port (default 8765; 0 = any free port)")
    p.add_argument("--token", default=os.environ.get("PACKAGER_DESK_TOKEN"),
                   help="access token, required beyond 127.0.0.1 (default: $PACKAGER_DESK_TOKEN)")
    p.set_defaults(func=_cmd_desk)

    p = sub.add_parser("profiles", help="list profiles, or show one (name or TOML path)")
    p.add_argument("action", nargs="?", choices=["show"], help="show one profile")
    p.add_argument("name", nargs="?", help="profile name or path of a profile TOML file")
    p.set_defaults(func=_cmd_profiles)
    return parser


# ---------------------------------------------------------------------------- commands


def _progress_bar(enabled: bool) -> tuple[Callable[[str, int, int], None] | None, Callable[[], None]]:
    if not enabled:
        return None, lambda: None
    from tqdm import tqdm

    bars: dict[str, Any] = {}

    def update(stage: str, done: int, total: int) -> None:
        bar = bars.get(stage)
        if bar is None:
            bar = bars[stage] = tqdm(total=total, desc=stage, unit="page", leave=False, file=sys.stderr)
        elif total != bar.total:  # a later pass (a wave, the second pass) counts its own pages
            bar.reset(total=total)
        bar.update(done - bar.n)

    def close() -> None:
        for bar in bars.values():
            bar.close()

    return update, close


def _cmd_build(args: argparse.Namespace) -> int:
    from packager import api
    from packager.summary import render_build_summary

    progress, close = _progress_bar(not args.quiet and sys.stdout.isatty())
    try:
        result = api.package(args.case_dir, args.out, _build_options(args), progress=progress)
    finally:
        close()
    if not args.quiet:
        print(render_build_summary(result.record))  # lists rejections too
    else:
        for r in result.rejections:
            print(f"packager: rejected {r.path}: {r.reason}", file=sys.stderr)
        for w in result.record.warnings:
            print(f"packager: {w}", file=sys.stderr)
    return int(result.exit_code)


def _cmd_check(args: argparse.Namespace) -> int:
    from packager import api
    from packager.summary import render_check_report

    report = api.check(args.case_dir, _build_options(args))
    print(render_check_report(report))
    return int(report.exit_code)


def _cmd_stamp(args: argparse.Namespace) -> int:
    from packager import outbox

    result = outbox.stamp(args.out_dir, args.receipt, args.date)
    print(f"stamped {result.pages} pages with receipt number {result.receipt}")
    return int(ExitCode.OK)


def _cmd_cases(args: argparse.Namespace) -> int:
    from packager import outbox
    from packager.summary import render_cases

    if not args.outbox.is_dir():
        print(f"packager cases: {args.outbox}: no such folder", file=sys.stderr)
        return int(ExitCode.USAGE)
    print(render_cases(outbox.list_cases(args.outbox)))
    return int(ExitCode.OK)


def _cmd_watch(args: argparse.Namespace) -> int:
    from packager.watch import serve

    return serve(
        args.inbox,
        args.out,
        options=_build_options(args),
        settle_seconds=args.settle,
        polling=args.polling,
        workers=args.workers,
        log_json=args.log_json,
    )


def _cmd_desk(args: argparse.Namespace) -> int:
    from packager.desk.config import DeskConfig
    from packager.desk.server import serve

    return serve(DeskConfig(outbox=args.outbox, inbox=args.inbox, host=args.host, port=args.port, token=args.token))


def _cmd_profiles(args: argparse.Namespace) -> int:
    from packager import profiles_text

    if args.action == "show":
        if not args.name:
            print("packager profiles show: give a profile name or a TOML path", file=sys.stderr)
            return int(ExitCode.USAGE)
        print(profiles_text.render_profile(args.name))
    else:
        print(profiles_text.render_profiles_table())
    return int(ExitCode.OK)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; its exit code. As the program (argv None: the console script, `python -m
    packager`) with no thread left to wait for, the process ends right here (_end_now), without
    tearing down its modules."""
    code = _run(argv)
    if argv is None and threading.active_count() == 1:
        _end_now(code)
    return code


def _end_now(code: int) -> None:
    """End the process with `code`, skipping the interpreter's teardown: with numpy, pikepdf,
    Pillow and their libraries loaded it took 40–50 ms after every build (typical's whole build
    is ~1.4 s). Nothing is lost: every output is closed and fsynced by now, stdout and stderr
    are flushed here and the atexit handlers run (multiprocessing's, logging's) as they would."""
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(code)


def _run(argv: Sequence[str] | None) -> int:
    parser = make_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except PackagerError as e:
        if args.verbose:
            traceback.print_exc()
        print(f"packager: {e}", file=sys.stderr)
        return int(e.exit_code)
    except KeyboardInterrupt:
        print("packager: interrupted", file=sys.stderr)
        return int(ExitCode.INTERRUPTED)
    except Exception as e:  # a bug: say so in one line, with the traceback on -v
        if args.verbose:
            traceback.print_exc()
        print(f"packager: internal error: {type(e).__name__}: {e} (run with -v and report it)", file=sys.stderr)
        return int(ExitCode.INTERNAL)


if __name__ == "__main__":
    sys.exit(main())

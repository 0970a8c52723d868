"""Exit codes and the one exception tree of packager.

A leaf module: it imports only the standard library, so every stage can import it
without creating cycles. Each exception carries the exit code the CLI returns and a
message written for the user (what went wrong, with which file, and what to do).
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Process exit codes; documented in README.md (keep the two in step)."""

    OK = 0
    INTERNAL = 1  # a bug in packager: please report it with `-v` output
    USAGE = 2  # bad command-line usage only (argparse's own code)
    INPUTS_REJECTED = 3  # the case was built, but some inputs were rejected
    NOTHING_TO_PACKAGE = 4  # the case holds no usable input at all
    DOES_NOT_FIT = 5  # even after mailing every document the upload cannot fit
    PROFILE_ERROR = 6  # a profile or case.toml is malformed
    NOT_ELIGIBLE_ONLINE = 7  # this application cannot be filed online
    CHECKLIST_INCOMPLETE = 8  # `check`: a required document is missing
    OUTPUT_ERROR = 9  # OUT cannot be written, or is inside CASE_DIR
    STAMP_ERROR = 10  # `stamp`: bad receipt number or nothing to stamp
    WATCH_ERROR = 11  # `watch`: the folders cannot be watched as given
    DESK_ERROR = 12  # `desk`: cannot serve as given (host without token, OUTBOX missing, port taken)
    INTERRUPTED = 130  # SIGINT


class PackagerError(Exception):
    """Base of every error packager reports to its user."""

    exit_code: ExitCode = ExitCode.INTERNAL

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class InputRejected(PackagerError):
    """One input file cannot be used; recorded as a Rejection, the case goes on."""

    exit_code = ExitCode.INPUTS_REJECTED

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


class UsageError(PackagerError):
    """The command was given something that cannot be what it asks for (a CASE_DIR that does not exist)."""

    exit_code = ExitCode.USAGE


class NothingToPackage(PackagerError):
    exit_code = ExitCode.NOTHING_TO_PACKAGE


class DoesNotFit(PackagerError):
    exit_code = ExitCode.DOES_NOT_FIT


class ProfileError(PackagerError):
    """A profile file, or a case.toml, is malformed. The message names file and key."""

    exit_code = ExitCode.PROFILE_ERROR

    def __init__(self, source: str, key: str, problem: str) -> None:
        where = f"{source}: {key}" if key else source
        super().__init__(f"{where}: {problem}")
        self.source = source
        self.key = key
        self.problem = problem


class NotEligibleOnline(PackagerError):
    exit_code = ExitCode.NOT_ELIGIBLE_ONLINE


class ChecklistIncomplete(PackagerError):
    exit_code = ExitCode.CHECKLIST_INCOMPLETE


class OutputError(PackagerError):
    exit_code = ExitCode.OUTPUT_ERROR


class StampError(PackagerError):
    exit_code = ExitCode.STAMP_ERROR


class WatchError(PackagerError):
    exit_code = ExitCode.WATCH_ERROR


class DeskError(PackagerError):
    exit_code = ExitCode.DESK_ERROR


def first_line(e: BaseException, limit: int = 160) -> str:
    """The first line of an error's message (at most `limit` characters), for one-line reasons;
    the exception's class name when it has no message."""
    lines = str(e).strip().splitlines()
    return lines[0][:limit] if lines else type(e).__name__

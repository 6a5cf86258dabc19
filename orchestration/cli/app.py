"""The typer application: its groups, its consoles and the errors every command turns into one
line. The command modules register themselves on `app` and `db_app` when imported (below)."""

from __future__ import annotations

import errno
import os
import select
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from typing import Annotated, Any, ParamSpec, TypeVar

import typer
from rich.console import Console
from rich.text import Text

from orchestration.bench import BenchBusy
from orchestration.bi.superset import SupersetError
from orchestration.features import EXTRACTION_WAIT, BrokenRuleError
from orchestration.keywords.calibrate import CalibrationError
from orchestration.models.plan import BUILD_WAIT
from orchestration.output import OutputFormat, ReportFormat, visible
from orchestration.queries import QueryFailed, ReadOnlyViolation
from orchestration.settings import SettingError, Settings
from orchestration.warehouse import WarehouseUnavailable
from orchestration.warehouse.backup import BackupError
from orchestration.warehouse.embedded import EmbeddedServerError
from orchestration.warehouse.migrations import MigrationError
from orchestration.warehouse.readers import ReaderError
from orchestration.workers import PortTaken

app = typer.Typer(
    name="paperhouse",
    help="A Postgres data warehouse of research-paper listings.",
    no_args_is_help=True,
    add_completion=False,
)
db_app = typer.Typer(help="The warehouse database: start, stop, connect.", no_args_is_help=True)
app.add_typer(db_app, name="db")

# The exit code of a command whose reader stopped reading (`paperhouse sql ... | head`): the
# shell's code for a program that SIGPIPE ends, as `cat` or `git log` end there. Click's own
# handling exits 1, which the commands keep for a failed warehouse, query or build.
READER_LEFT = 128 + 13


# The most characters one write hands stdout: at most 64 KB of UTF-8, what a pipe holds.
WRITE_PIECE = 16_384


class OutputUnwritable(RuntimeError):
    """Standard output refused a write: a full disk behind `> file`, a closed descriptor."""


class StandardOutput:
    """sys.stdout as the commands write to it, looked up at each write as a console without a
    file of its own does. A write the system refuses is raised as OutputUnwritable, a line for
    the user where the OSError would be a traceback with no word of what was being written;
    a broken pipe stays itself (the reader left)."""

    def write(self, text: str) -> int:
        if sys.stdout is None:  # Python's stdout when the process starts without descriptor 1
            raise OutputUnwritable("cannot write the output: standard output is closed")
        with self._refusals():
            # In pieces: a reader that leaves during one write makes it a short write, which
            # Python counts as done; the piece after it finds the pipe broken.
            for start in range(0, len(text), WRITE_PIECE):
                sys.stdout.write(text[start : start + WRITE_PIECE])
        return len(text)

    def flush(self) -> None:
        if sys.stdout is None:  # nothing was written, so nothing is lost
            return
        with self._refusals():
            sys.stdout.flush()

    @staticmethod
    @contextmanager
    def _refusals() -> Iterator[None]:
        try:
            yield
        except BrokenPipeError:
            raise
        except OSError as exc:
            raise OutputUnwritable(f"cannot write the output: {exc.strerror or exc}") from None

    def __getattr__(self, name: str) -> Any:  # isatty, fileno, encoding: stdout's own
        return getattr(sys.stdout, name)


class Output(Console):
    """Standard output's console. Rich ends the process with code 1 when the pipe it writes
    breaks; this one raises BrokenPipeError, which `friendly_errors` turns into READER_LEFT."""

    def on_broken_pipe(self) -> None:
        self.quiet = True
        raise BrokenPipeError(errno.EPIPE, os.strerror(errno.EPIPE))  # as click expects it


def stdout_reader_left() -> bool:
    """Whether stdout is a pipe that no one reads any more: a broken pipe to a child process
    is that command's own failure, not a reader that stopped early."""
    try:
        poll = select.poll()
        poll.register(sys.stdout.fileno(), 0)  # POLLERR is reported whatever is asked for
        return any(events & select.POLLERR for _, events in poll.poll(0))
    except (OSError, ValueError, AttributeError):  # stdout closed, or None, or not a file
        return False


def stop_writing_stdout() -> None:
    """Point stdout at /dev/null: what Python's exit still flushes into the broken pipe or the
    full disk would print a second error."""
    if sys.stdout is None:
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


# Neither wraps what it prints: a line broken by the program breaks the paths and URLs in it
# for whoever copies or greps them; a terminal wraps long lines itself.
out = Output(file=StandardOutput(), soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

P = ParamSpec("P")
R = TypeVar("R")


def friendly_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Turn the failures a user can act on into one clear line and exit code 1, not a traceback;
    a reader of stdout that left early, into READER_LEFT and no line at all."""

    @wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            result = command(*args, **kwargs)
            # what stdout still buffers fails here, in a line, not in the interpreter's exit
            out.file.flush()
            return result
        except OutputUnwritable as exc:
            stop_writing_stdout()
            err.print(Text("error: ", style="bold red") + Text(str(exc)), highlight=False)
            raise typer.Exit(1) from None
        except (
            WarehouseUnavailable,
            EmbeddedServerError,
            MigrationError,
            CalibrationError,
            ReadOnlyViolation,
            QueryFailed,
            ReaderError,
            SettingError,
            SupersetError,
            PortTaken,
            BenchBusy,
            BrokenRuleError,
            BackupError,
        ) as exc:
            err.print(Text("error: ", style="bold red") + Text(str(exc)), highlight=False)
            raise typer.Exit(1) from None
        except BrokenPipeError:
            if not stdout_reader_left():
                raise
            stop_writing_stdout()
            raise typer.Exit(READER_LEFT) from None

    return wrapper


def reason(exc: OSError) -> str:
    """Why a file or folder could not be made, in a user's words.

    The commands make their folders with mkdir(exist_ok=True), whose only
    FileExistsError is a file standing where the folder goes: its own words,
    "File exists", read as if the folder were there.
    """
    if isinstance(exc, FileExistsError):
        return "it is not a folder"
    return exc.strerror or str(exc)


def utf8_text(value: str | None) -> str | None:
    """A command-line text the warehouse is sent, refused unless it is UTF-8 (a typer callback).

    The shell hands a program bytes; Python keeps those that are not UTF-8 as
    lone surrogates, which no query can carry.
    """
    if value is not None:
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            byte = ord(value[exc.start]) - 0xDC00  # surrogateescape's code for the raw byte
            raise typer.BadParameter(
                f"not UTF-8 text: byte 0x{byte:02x} at character {exc.start + 1}"
            ) from None
    return value


def settings() -> Settings:
    return Settings.from_env()


# A command that waits for a lock says so, or the wait looks like a hang.
def say_waiting_for_build() -> None:
    err.print(f"{BUILD_WAIT} ...")


def say_waiting_for_features() -> None:
    err.print(f"{EXTRACTION_WAIT} ...")


def say_waiting_for_lock(message: str) -> None:
    # it quotes another session's statement, which may hold a terminal's escape sequences
    err.print(Text(visible(message), style="yellow"))


FormatOption = Annotated[OutputFormat, typer.Option("--format", "-f", help="table, csv or json.")]
ReportFormatOption = Annotated[ReportFormat, typer.Option("--format", "-f", help="table or json.")]


from orchestration.cli import bench, database, pipeline, questions, tools  # noqa: E402, F401

"""Backups: the warehouse as one archive file, and that archive restored in place of the warehouse.

An archive is pg_dump's custom format of paperhouse's schemas (the raw
tables, the features, the marts, the build log and the migration ledger),
taken in one snapshot while the dump holds the build's turn, so it is one
build's marts with the listings they were built from. Dagster's run history
and the reader logins (roles belong to the server) are not in it.

A restore replaces paperhouse's schemas with the archive's in one
transaction: every schema is dropped and the archive loaded by one psql
session, whose COMMIT is sent only after pg_restore has handed over the
whole archive. A restore killed at any moment, or one that fails, leaves the
warehouse as it was. The archive's migration ledger is checked against this
paperhouse's migrations before anything is replaced; an archive made by an
older paperhouse is brought up to date after it is loaded.

The programs are the embedded server's (pg_dump, pg_restore and psql of
PostgreSQL 18), which read and write archives of any server from 9.2 on; an
archive loads into a server of its own PostgreSQL version or a newer one.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from psycopg.conninfo import conninfo_to_dict, make_conninfo

from orchestration.features import EXTRACTION_LOCK_KEY
from orchestration.ingest.inbox import as_text
from orchestration.models.plan import build_turn
from orchestration.status import WarehouseStatus, read_status
from orchestration.warehouse import take_session_lock
from orchestration.warehouse.embedded import POSTGRES_BIN_PATH
from orchestration.warehouse.lock_waits import reporting_lock_waits
from orchestration.warehouse.migrations import apply_migrations, discover
from orchestration.workers import dying_with_parent, process_exists

# Every schema paperhouse writes (migrations and dbt's): what an archive holds and a restore
# replaces. Anything else in the database (Dagster's tables, a user's own schemas) is left alone.
SCHEMAS = ("raw", "features", "staging", "intermediate", "analytics", "meta")
# An archive being written: hidden, beside the file it becomes (a link or a rename within one
# folder is atomic), and named by its process, so that what a killed dump left is known for its
# own.
PARTIAL_NAME = re.compile(r"\.(?P<name>.+)\.(?P<pid>\d+)\.partial")
# The archive's table of contents names its source server: `;     Dumped from database version: 18.6`
DUMPED_FROM = re.compile(r"^;\s+Dumped from database version: (?P<major>\d+)", re.MULTILINE)
LEDGER_ENTRY = re.compile(r"^\d+; \d+ \d+ TABLE meta schema_migrations ", re.MULTILINE)
# A session setting at the head of pg_restore's script, which names the settings of its own
# version: `SET transaction_timeout = 0;` stops a load into PostgreSQL 16 or older.
SESSION_SETTING = re.compile(rb"SET (?P<name>\w+) = .*;\n")
# psql may not stop for a notice (each object a cascade drops is one); errors stop it.
QUIET = "set client_min_messages = warning"
# the restore's psql session, as lock_waits finds it among the server's sessions
RESTORE_APPLICATION_NAME = "paperhouse db restore"


class BackupError(RuntimeError):
    """A dump or restore that cannot be done; the message says why, in one line."""


@dataclass(frozen=True)
class Dumped:
    path: Path
    bytes: int
    counts: WarehouseStatus  # what the archive holds, read in its snapshot


@dataclass(frozen=True)
class Restored:
    counts: WarehouseStatus  # the warehouse after the restore
    replaced: WarehouseStatus  # the warehouse before it
    migrations_applied: int  # an archive of an older paperhouse, brought up to date


def dump(
    url: str, path: Path, *, replace: bool = False, on_wait: Callable[[], None] | None = None
) -> Dumped:
    """Write the warehouse to the archive `path` (pg_dump's custom format); `replace` allows
    `path` to exist. `on_wait()` is called first if a build is running and the dump waits."""
    path = Path(os.path.abspath(path))
    if path.is_dir():
        raise BackupError(f"{shown(path)} is a folder: name the archive file to write")
    if path.exists() and not replace:
        raise BackupError(f"{shown(path)} exists: choose another name, or add --replace")
    if path.exists() and not path.is_file():
        # the rename would put the archive in place of a device or a pipe, not into it
        raise BackupError(f"{shown(path)} is not a regular file: name the archive file to write")
    if not path.parent.is_dir():
        raise BackupError(f"cannot write {shown(path)}: {shown(path.parent)} is not a folder")
    remove_abandoned_partials(path)
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    try:
        # The counts and pg_dump read one snapshot: the report says what the archive holds.
        with build_turn(url, on_wait) as conn, conn.transaction():
            conn.execute("set transaction isolation level repeatable read, read only")
            snapshot = conn.execute("select pg_export_snapshot()").fetchone()[0]  # type: ignore[index]
            counts = read_status(conn)
            _run(
                "pg_dump",
                [
                    "--format=custom",
                    # gzip's fastest level: a third of the default's time for an archive about
                    # a third larger (this pg_dump has no zstd or lz4), and the dump holds the
                    # build's turn while it runs
                    "--compress=gzip:1",
                    f"--snapshot={snapshot}",
                    *(f"--schema={schema}" for schema in SCHEMAS),
                    f"--file={partial}",
                ],
                url,
            )
        with open(partial, "rb") as written:
            os.fsync(written.fileno())
        _publish(partial, path, replace)
        _sync_folder(path.parent)
    finally:
        with contextlib.suppress(OSError):
            partial.unlink(missing_ok=True)
    return Dumped(path, path.stat().st_size, counts)


def _publish(partial: Path, path: Path, replace: bool) -> None:
    """Put the whole archive `partial` at `path`. Without `replace` by a hard link, which fails
    where the name was taken meanwhile (another dump of that name ended first): a rename would
    replace that archive without a word."""
    if not replace:
        try:
            os.link(partial, path)
            return
        except FileExistsError:
            taken = True
        except OSError:  # a file system without hard links: a rename, after one more look
            taken = path.exists()
        if taken:
            raise BackupError(
                f"{shown(path)} was written by another dump meanwhile: this one is not kept"
            )
    os.replace(partial, path)


def restore(
    url: str,
    path: Path,
    *,
    replace: bool = False,
    on_wait: Callable[[], None] | None = None,
    on_features_wait: Callable[[], None] | None = None,
    on_blocked: Callable[[str], None] | None = None,
) -> Restored:
    """Replace the warehouse with the archive `path`, whole or not at all; `replace` allows
    it to replace a warehouse that holds files. `on_wait()` is called first if a build is
    running and the restore waits for it, `on_features_wait()` if a features step is, and
    `on_blocked(message)` names each session whose lock keeps the load waiting (a reader's
    open transaction on a table it drops)."""
    if not path.is_file():
        raise BackupError(
            f"{shown(path)} is not a file: name an archive `paperhouse db dump` wrote"
        )
    source_major = check_archive(path)
    with build_turn(url, on_wait) as conn:
        take_session_lock(conn, EXTRACTION_LOCK_KEY, on_features_wait)
        target_major = conn.info.server_version // 10000
        if source_major is not None and source_major > target_major:
            raise BackupError(
                f"{shown(path)} was made from PostgreSQL {source_major} and this server runs "
                f"PostgreSQL {target_major}: an archive loads into its own PostgreSQL version "
                "or a newer one"
            )
        replaced = read_status(conn)
        if replaced.files and not replace:
            raise BackupError(
                f"the warehouse holds {replaced.files:,} file(s) and "
                f"{replaced.listings:,} listing(s), which a restore replaces: add --replace"
            )
        known = {name for (name,) in conn.execute("select name from pg_settings").fetchall()}
        with reporting_lock_waits(url, RESTORE_APPLICATION_NAME, "the restore", on_blocked):
            _load(url, path, known)
        applied = apply_migrations(conn)
        counts = read_status(conn)
    return Restored(counts, replaced, len(applied))


def check_archive(path: Path) -> int | None:
    """Refuse, before anything is replaced, a file that is not a paperhouse archive, or one whose
    migrations this paperhouse does not have (a newer one's) or has in another form; the major
    version of the PostgreSQL it was made from, where the archive says."""
    listing = _output(
        "pg_restore", ["--list", str(path)], failure=f"{shown(path)} is not an archive"
    )
    if LEDGER_ENTRY.search(listing) is None:
        raise BackupError(
            f"{shown(path)} is a PostgreSQL archive, but not of a paperhouse warehouse"
        )
    ledger = _output(
        "pg_restore",
        ["--data-only", "--schema=meta", "--table=schema_migrations", "--file=-", str(path)],
        failure=f"cannot read the migration ledger in {shown(path)}",
    )
    ours = {migration.version: migration for migration in discover()}
    for version, name, checksum in _copied_rows(ledger, "meta.schema_migrations"):
        migration = ours.get(int(version))
        if migration is None:
            raise BackupError(
                f"{shown(path)} was made by a newer paperhouse (its migration {version}_{name}): "
                "update paperhouse to restore it"
            )
        if migration.checksum != checksum:
            raise BackupError(
                f"{shown(path)} holds migration {migration.path.name} in another form than this "
                "paperhouse's: it was made by another version of it"
            )
    source = DUMPED_FROM.search(listing)
    return None if source is None else int(source["major"])


def remove_abandoned_partials(path: Path) -> list[Path]:
    """Delete what dumps killed outright left half-written beside `path` (their processes
    are gone); the paths deleted."""
    removed = []
    for entry in path.parent.iterdir():
        found = PARTIAL_NAME.fullmatch(entry.name)
        if found is None or found["name"] != path.name or process_exists(int(found["pid"])):
            continue
        with contextlib.suppress(OSError):
            entry.unlink()
            removed.append(entry)
    return removed


def _load(url: str, path: Path, known_settings: set[str]) -> None:
    """Drop paperhouse's schemas and load the archive in one psql transaction, committed only
    once pg_restore has ended well and its whole script went through."""
    conninfo, env = _connection(url)
    # Both die with this process: a restore killed outright leaves no load running.
    psql = dying_with_parent(
        [
            str(POSTGRES_BIN_PATH / "psql"),
            "--no-psqlrc",
            "--quiet",
            "--set=ON_ERROR_STOP=1",
            f"--dbname={make_conninfo(conninfo, application_name=RESTORE_APPLICATION_NAME)}",
        ]
    )
    pg_restore = dying_with_parent(
        [
            str(POSTGRES_BIN_PATH / "pg_restore"),
            "--no-owner",  # the warehouse's owner here owns what it loads, whoever owned it there
            "--file=-",
            str(path),
        ]
    )
    head = f"{QUIET};\nbegin;\ndrop schema if exists {', '.join(SCHEMAS)} cascade;\n"
    # Each program's messages go to a file: a pipe left unread could fill and stall it.
    with (
        tempfile.TemporaryFile() as psql_errors,
        tempfile.TemporaryFile() as restore_errors,
        subprocess.Popen(
            psql, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=psql_errors, env=env
        ) as loader,
        subprocess.Popen(pg_restore, stdout=subprocess.PIPE, stderr=restore_errors) as reader,
    ):
        assert loader.stdin is not None and reader.stdout is not None
        psql_stopped = False  # psql ended first, at an error: pg_restore's broken pipe follows
        try:
            loader.stdin.write(head.encode())
            _copy_script(reader.stdout, loader.stdin, known_settings)
            if reader.wait() == 0:
                # the transaction's end: without it (a failure, a kill) psql's session
                # ends with the transaction open, and the server rolls it back
                loader.stdin.write(b"commit;\n")
        except BrokenPipeError:
            psql_stopped = True
        finally:
            with contextlib.suppress(BrokenPipeError):
                loader.stdin.close()
            reader.stdout.close()
        if loader.wait() != 0 or reader.wait() != 0:
            reader.kill()
            # the program that failed first says why: psql at a statement the server refused,
            # or pg_restore at an archive cut short or damaged (and psql then at its last line)
            failed, messages = (
                ("psql", psql_errors)
                if psql_stopped or reader.wait() == 0
                else ("pg_restore", restore_errors)
            )
            # the program's own lines start with its name (`pg_restore: error: ...`), or not (psql's)
            said = _error_line(messages).removeprefix(f"{failed}: ")
            raise BackupError(
                f"the restore failed and the warehouse is as it was: {failed}: {said}"
            )


def _copy_script(script: IO[bytes], into: IO[bytes], known_settings: set[str]) -> None:
    """pg_restore's script into psql, but for the session settings at its head that this server
    does not have: the script names every setting its own version resets."""
    for line in script:
        setting = SESSION_SETTING.fullmatch(line)
        if setting is None and line.strip() and not line.startswith((b"--", b"SELECT", b"\\")):
            into.write(line)
            break
        if setting is None or setting["name"].decode() in known_settings:
            into.write(line)
    shutil.copyfileobj(script, into, 1024 * 1024)


def _copied_rows(script: str, table: str) -> Iterator[list[str]]:
    """The rows of `table` in a script's COPY block (COPY's text format; the first three
    fields, which hold no escapes: a version, a file name and a hex checksum)."""
    lines = iter(script.splitlines())
    for line in lines:
        if line.startswith(f"COPY {table} "):
            for row in lines:
                if row == "\\.":
                    return
                yield row.split("\t")[:3]


def shown(path: Path) -> str:
    """A path as text a message can carry (a name that is not UTF-8 included)."""
    return as_text(str(path))


def _run(program: str, args: list[str], url: str) -> None:
    conninfo, env = _connection(url)
    done = subprocess.run(
        # dies with this process: a dump killed outright leaves no pg_dump writing on
        dying_with_parent([str(POSTGRES_BIN_PATH / program), *args, f"--dbname={conninfo}"]),
        env=env,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise BackupError(
            f"{program} failed: {_error_line_of(done.stderr).removeprefix(f'{program}: ')}"
        )


def _output(program: str, args: list[str], failure: str) -> str:
    done = subprocess.run(
        [str(POSTGRES_BIN_PATH / program), *args], capture_output=True, text=True, errors="replace"
    )
    if done.returncode != 0:
        raise BackupError(f"{failure} ({_error_line_of(done.stderr)})")
    return done.stdout


def _connection(url: str) -> tuple[str, dict[str, str]]:
    """`url` without its password, and an environment that gives it (PGPASSWORD): a password
    on a command line is shown to every user of the machine by ps."""
    info = conninfo_to_dict(url)
    env = dict(os.environ)
    password = info.pop("password", None)
    if password is not None:
        env["PGPASSWORD"] = str(password)
    return make_conninfo("", **info), env


def _error_line(file: IO[bytes]) -> str:
    file.seek(0)
    return _error_line_of(file.read().decode("utf-8", "replace"))


def _error_line_of(text: str) -> str:
    """The line that says what went wrong: the first error, else the last line (a program's
    error is followed by its context, detail and hint lines)."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    errors = [line for line in lines if "ERROR:" in line or "error:" in line]
    return (errors or lines or ["no message"])[0 if errors else -1]


def _sync_folder(folder: Path) -> None:
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)

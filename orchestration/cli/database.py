"""`paperhouse db`: the warehouse database: start, stop, status, url, psql, reader logins,
dump, backup and restore."""

from __future__ import annotations

import json
import os
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from orchestration.cli.app import (
    ReportFormatOption,
    db_app,
    err,
    friendly_errors,
    out,
    reason,
    say_waiting_for_build,
    say_waiting_for_features,
    say_waiting_for_lock,
    settings,
)
from orchestration.ingest.inbox import as_text
from orchestration.output import ReportFormat
from orchestration.status import WarehouseStatus
from orchestration.warehouse import (
    WarehouseUnavailable,
    as_url,
    connect,
    database_url,
    prepare,
    redact,
    sqlalchemy_url,
)
from orchestration.warehouse.backup import BackupError, Dumped, dump, restore
from orchestration.warehouse.backup_folder import back_up
from orchestration.warehouse.embedded import EmbeddedServer, psql_executable


@db_app.command("start")
@friendly_errors
def db_start() -> None:
    """Start the embedded server (if it is the warehouse) and print its URL."""
    config = settings()
    if config.database_url:
        out.print(
            Text(f"PAPERHOUSE_DATABASE_URL is set: the warehouse is {redact(config.database_url)}")
        )
        return
    print(EmbeddedServer(config.home).start(), file=out.file)


@db_app.command("stop")
@friendly_errors
def db_stop() -> None:
    """Stop the embedded server."""
    config = settings()
    server = EmbeddedServer(config.home)
    if server.stop():
        out.print(Text(f"stopped the embedded server in {server.pgdata}"))
    else:
        out.print("the embedded server is not running")


@db_app.command("status")
@friendly_errors
def db_status(
    format: ReportFormatOption = ReportFormat.table,
) -> None:
    """Whether the warehouse server is up, and where."""
    config = settings()
    if config.database_url:
        info: dict[str, object] = {"kind": "external", "url": redact(config.database_url)}
        try:
            with connect(config.database_url) as conn:
                row = conn.execute("show server_version").fetchone()
                info.update(running=True, server_version=row[0] if row else None)
        except WarehouseUnavailable as exc:
            info.update(running=False, error=str(exc))
    else:
        state = EmbeddedServer(config.home).state()
        info = {
            "kind": "embedded",
            "running": state.running,
            "url": state.url,
            "port": state.port,
            "pid": state.pid,
            "pgdata": str(state.pgdata),
            "log": str(state.log_file),
        }
    if format is ReportFormat.json:
        print(json.dumps(info, indent=2), file=out.file)
        return
    table = Table(show_header=False)
    for key, value in info.items():
        table.add_row(key, Text("" if value is None else str(value)))
    out.print(table)


class SQLAlchemyDriver(StrEnum):
    psycopg = "psycopg"
    psycopg2 = "psycopg2"


@db_app.command("url")
@friendly_errors
def db_url(
    sqlalchemy: Annotated[
        SQLAlchemyDriver | None,
        typer.Option(
            "--sqlalchemy",
            help="The URL for SQLAlchemy (pandas, Superset) with this driver: psycopg (psycopg 3) "
            "or psycopg2. SQLAlchemy 2.1 reads a plain postgresql:// URL as psycopg 3.",
        ),
    ] = None,
) -> None:
    """Print the warehouse's libpq URL for psql or a BI tool (starts the embedded server if needed)."""
    url = database_url(settings())
    print(
        as_url(url) if sqlalchemy is None else sqlalchemy_url(url, sqlalchemy.value),
        file=out.file,
    )


@db_app.command("create-reader")
@friendly_errors
def db_create_reader(
    name: Annotated[str, typer.Argument(help="The login to create (or whose password to reset).")],
) -> None:
    """Create a read-only login for a BI tool: it reads the marts in analytics and nothing else.

    The password comes from $PAPERHOUSE_READER_PASSWORD, else a prompt that does not echo.
    Run again for a reader made before, it sets a new password; any other existing role is refused.
    """
    from orchestration.warehouse.readers import ReaderError, create_reader

    config = settings()
    password = config.reader_password
    if not password:
        if not sys.stdin.isatty():
            raise ReaderError(
                "no password: set PAPERHOUSE_READER_PASSWORD, or run this in a terminal to be asked"
            )
        password = typer.prompt(f"password for {name}", hide_input=True, confirmation_prompt=True)
    reader = create_reader(prepare(config), name, password)
    verb = "created reader" if reader.created else "updated the password of reader"
    out.print(Text(f"{verb} {name} (member of paperhouse_reader)"))
    out.print(Text("connection URL (the password is the one you just set):"))
    print(reader.url, file=out.file)


@db_app.command("psql", context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
@friendly_errors
def db_psql(ctx: typer.Context) -> None:
    """Open psql on the warehouse; extra arguments go to psql."""
    url = prepare(settings())
    psql = str(psql_executable())
    sys.stdout.flush()
    os.execv(psql, [psql, url, *ctx.args])


@db_app.command("dump")
@friendly_errors
def db_dump(
    file: Annotated[Path, typer.Argument(help="The archive to write (pg_dump's custom format).")],
    replace: Annotated[bool, typer.Option("--replace", help="Replace FILE if it exists.")] = False,
) -> None:
    """Write the warehouse to one archive file: its listings, features and marts, one build's.

    The file appears whole when the dump is done: a failed or killed dump leaves FILE as it was.
    `paperhouse db restore FILE` loads it back, here or on another machine.
    """
    url = prepare(settings())
    try:
        done = dump(url, file, replace=replace, on_wait=say_waiting_for_build)
    except OSError as exc:  # the folder went away, or the disk filled at the rename
        err.print(Text(f"error: cannot write {as_text(str(file))}: {reason(exc)}"), highlight=False)
        raise typer.Exit(1) from None
    _say_written(done)


@db_app.command("backup")
@friendly_errors
def db_backup(
    folder: Annotated[
        Path | None,
        typer.Argument(
            help="The backup folder (default: PAPERHOUSE_BACKUP_DIR).", show_default=False
        ),
    ] = None,
    keep: Annotated[
        int | None,
        typer.Option(
            "--keep",
            min=1,
            help="How many backups the folder keeps (default: PAPERHOUSE_BACKUP_KEEP, 7).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Dump the warehouse into a folder of dated backups, keeping the newest few.

    The archive is named paperhouse-YYYYMMDDTHHMMSSZ.dump (UTC); once it is whole, the oldest
    archives so named are deleted until --keep remain, and nothing else in the folder is
    touched. The nightly Dagster schedule `nightly_backup` runs the same.
    """
    config = settings()
    place = folder if folder is not None else config.backup_dir
    if place is None:
        raise BackupError(
            "no backup folder: name one (paperhouse db backup FOLDER) or set PAPERHOUSE_BACKUP_DIR"
        )
    url = prepare(config)
    try:
        done = back_up(
            url,
            place,
            keep if keep is not None else config.backup_keep,
            on_wait=say_waiting_for_build,
        )
    except OSError as exc:  # the disk filled at the rename, or an old backup cannot be deleted
        err.print(Text(f"error: backup into {as_text(str(place))}: {reason(exc)}"), highlight=False)
        raise typer.Exit(1) from None
    _say_written(done.dumped)
    if done.removed:
        names = ", ".join(as_text(path.name) for path in done.removed)
        out.print(Text(f"removed {len(done.removed)} older backup(s): {names}"))


@db_app.command("restore")
@friendly_errors
def db_restore(
    file: Annotated[Path, typer.Argument(help="An archive `paperhouse db dump` wrote.")],
    replace: Annotated[
        bool,
        typer.Option("--replace", help="Replace a warehouse that holds files (they are lost)."),
    ] = False,
) -> None:
    """Replace the warehouse with an archive, whole or not at all.

    An archive of an older paperhouse is brought up to date; one of a newer paperhouse is
    refused. A warehouse that holds files is replaced only with --replace.
    """
    url = prepare(settings())
    done = restore(
        url,
        file,
        replace=replace,
        on_wait=say_waiting_for_build,
        on_features_wait=say_waiting_for_features,
        on_blocked=say_waiting_for_lock,
    )
    upgraded = (
        f" (brought up to date: {done.migrations_applied} migration(s))"
        if done.migrations_applied
        else ""
    )
    out.print(Text(f"restored {as_text(str(file))}{upgraded}: {_held(done.counts)}"))
    if done.replaced.files:
        out.print(Text(f"in place of a warehouse of {_held(done.replaced)}"))


def _say_written(dumped: Dumped) -> None:
    out.print(
        Text(f"wrote {as_text(str(dumped.path))} ({dumped.bytes:,} bytes): {_held(dumped.counts)}")
    )


def _held(counts: WarehouseStatus) -> str:
    papers = "not built" if counts.papers is None else f"{counts.papers:,}"
    return f"{counts.files:,} files, {counts.listings:,} listings, papers {papers}"

"""The `paperhouse` command line: thin commands over ingest, the warehouse and its status.

Exit codes: 0 when every file got a status (rejected files included), 1 when
the warehouse or the build failed, 2 for a usage error.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from enum import Enum
from functools import wraps
from pathlib import Path
from typing import Annotated, ParamSpec, TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from orchestration.build import BuildSummary
from orchestration.build import build as build_models
from orchestration.ingest.batch import IngestReport, ingest_paths
from orchestration.keyword_reference import SEED_FILE as KEYWORD_SEED_FILE
from orchestration.keyword_reference import CalibrationError
from orchestration.keyword_reference import calibrate as calibrate_keywords
from orchestration.ingest.inbox import InboxFile
from orchestration.ingest.load import FileResult, Outcome
from orchestration.settings import Settings
from orchestration.status import WarehouseStatus, read_status
from orchestration.warehouse import (
    EmbeddedServer,
    WarehouseUnavailable,
    connect,
    database_url,
    prepare,
    redact,
)
from orchestration.warehouse.embedded import EmbeddedServerError, psql_executable
from orchestration.warehouse.migrations import MigrationError

app = typer.Typer(
    name="paperhouse",
    help="A Postgres data warehouse of research-paper listings.",
    no_args_is_help=True,
    add_completion=False,
)
db_app = typer.Typer(help="The warehouse database: start, stop, connect.", no_args_is_help=True)
app.add_typer(db_app, name="db")

out = Console(soft_wrap=True)
err = Console(stderr=True)

P = ParamSpec("P")
R = TypeVar("R")


class OutputFormat(str, Enum):
    table = "table"
    json = "json"


def friendly_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Turn the failures a user can act on into one clear line and exit code 1, not a traceback."""

    @wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except (WarehouseUnavailable, EmbeddedServerError, MigrationError, CalibrationError) as exc:
            err.print(Text("error: ", style="bold red") + Text(str(exc)), highlight=False)
            raise typer.Exit(1) from None

    return wrapper


def settings() -> Settings:
    return Settings.from_env()


# ---------- ingest and run


@app.command()
@friendly_errors
def ingest(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(
            help="Files or folders to ingest (default: the inbox, $PAPERHOUSE_INBOX or data/inbox).",
            exists=True,
        ),
    ] = None,
) -> None:
    """Ingest listing files into the raw tables, each new file exactly once."""
    config = settings()
    url = prepare(config)
    report = _ingest_with_progress(url, paths or [config.inbox], config)
    _print_ingest_report(report)


@app.command()
@friendly_errors
def run(
    inbox: Annotated[
        Path | None, typer.Option(help="The inbox folder (default: $PAPERHOUSE_INBOX or data/inbox).")
    ] = None,
) -> None:
    """Ingest the inbox, build the models, and print what the warehouse holds."""
    config = settings()
    url = prepare(config)
    folder = inbox or config.inbox
    if not folder.is_dir():
        err.print(f"[bold red]error:[/] the inbox {folder} is not a folder")
        raise typer.Exit(2)
    report = _ingest_with_progress(url, [folder], config)
    _print_ingest_report(report)
    err.print("building the models (dbt build) ...")
    summary = build_models(url, quiet=True)
    _print_build_summary(summary)
    with connect(url) as conn:
        _print_status(read_status(conn), url)
    if not summary.succeeded:
        raise typer.Exit(1)


@app.command()
@friendly_errors
def build(
    full_refresh: Annotated[
        bool, typer.Option("--full-refresh", help="Rebuild incremental models from scratch.")
    ] = False,
    select: Annotated[str | None, typer.Option("--select", "-s", help="dbt node selection.")] = None,
) -> None:
    """Build the dbt models (dbt build: models, seeds and their tests) on the warehouse."""
    url = prepare(settings())
    summary = build_models(url, full_refresh=full_refresh, select=select)
    _print_build_summary(summary)
    if not summary.succeeded:
        raise typer.Exit(1)


@app.command()
@friendly_errors
def calibrate() -> None:
    """Recompute the keyword reference frequencies (IDF) from the warehouse, then rebuild every keyword."""
    url = prepare(settings())
    phrases = calibrate_keywords(url)
    out.print(f"wrote {phrases:,} phrases to {KEYWORD_SEED_FILE}")
    summary = build_models(url, full_refresh=True, quiet=True)
    _print_build_summary(summary)
    if not summary.succeeded:
        raise typer.Exit(1)


@app.command()
@friendly_errors
def ui(
    port: Annotated[int, typer.Option(help="The webserver's port.")] = 3000,
    host: Annotated[str, typer.Option(help="The address the webserver listens on.")] = "127.0.0.1",
) -> None:
    """Start the Dagster UI and daemon (dagster dev) over the warehouse: schedules and the sensor run."""
    from orchestration.ui import dagster_dev_command, ui_environment

    env = ui_environment(settings())
    out.print(f"Dagster UI on http://{host}:{port} (Ctrl-C stops it); DAGSTER_HOME={env['DAGSTER_HOME']}")
    command = dagster_dev_command(host, port)
    sys.stdout.flush()
    os.execve(command[0], command, env)


def _print_build_summary(summary: BuildSummary) -> None:
    if summary.succeeded:
        out.print(Text(f"models built: {summary.describe()}", style="green"))
        return
    err.print(Text(f"dbt build failed: {summary.describe()}", style="bold red"))
    for failure in summary.failures:
        err.print(Text(f"  {failure}"))


@app.command()
@friendly_errors
def status(
    format: Annotated[OutputFormat, typer.Option("--format", "-f", help="Output format.")] = OutputFormat.table,
) -> None:
    """Files by status, listings and papers in the warehouse."""
    url = prepare(settings())
    with connect(url) as conn:
        current = read_status(conn)
    if format is OutputFormat.json:
        print(json.dumps(current.as_json(), indent=2))
    else:
        _print_status(current, url)


def _ingest_with_progress(url: str, paths: list[Path], config: Settings) -> IngestReport:
    progress = Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    )
    task = progress.add_task("ingesting", total=None)

    def started(files: list[InboxFile]) -> None:
        progress.update(task, total=len(files))
        if len(files) > 1:
            progress.start()

    def finished(result: FileResult) -> None:
        progress.update(task, advance=1, description=f"ingesting {result.path.name}")

    try:
        return ingest_paths(url, paths, settle_seconds=config.settle_seconds, on_start=started, on_file=finished)
    finally:
        progress.stop()


OUTCOME_STYLES = {
    Outcome.LOADED: "green",
    Outcome.DUPLICATE: "yellow",
    Outcome.EMPTY: "yellow",
    Outcome.REJECTED: "red",
    Outcome.UNCHANGED: "dim",
    Outcome.RETRY: "magenta",
}


def _print_ingest_report(report: IngestReport) -> None:
    counts = report.by_outcome
    table = Table(title="Ingest", title_justify="left")
    table.add_column("outcome")
    table.add_column("files", justify="right")
    for outcome in Outcome:
        if counts[outcome]:
            table.add_row(f"[{OUTCOME_STYLES[outcome]}]{outcome.value}[/]", f"{counts[outcome]:,}")
    table.add_row("[bold]listings loaded[/]", f"[bold]{report.listings_loaded:,}[/]")
    out.print(table)

    noteworthy = [r for r in report.results if r.message and r.outcome is not Outcome.UNCHANGED]
    if noteworthy or report.passed_over:
        details = Table(title="Files to look at", title_justify="left", show_lines=False)
        details.add_column("file", overflow="fold")
        details.add_column("outcome")
        details.add_column("why", overflow="fold")
        # File names and messages are data: Text() shows them verbatim, never as markup.
        for result in noteworthy:
            style = OUTCOME_STYLES[result.outcome]
            details.add_row(
                Text(result.path.name), Text(result.outcome.value, style=style), Text(result.message or "")
            )
        for skipped in report.passed_over:
            details.add_row(Text(str(skipped.path)), Text("passed over", style="dim"), Text(skipped.reason))
        out.print(details)
    if not report.results and not report.passed_over:
        out.print("no files found")


def _print_status(current: WarehouseStatus, url: str) -> None:
    table = Table(title="Warehouse", title_justify="left", show_header=False)
    table.add_column("what")
    table.add_column("count", justify="right")
    table.add_row("database", Text(redact(url)))
    for status_name, count in current.files_by_status.items():
        table.add_row(f"files {status_name}", f"{count:,}")
    table.add_row("listings", f"{current.listings:,}")
    table.add_row("papers", f"{current.papers:,}" if current.papers is not None else "not built yet")
    last = current.last_ingested_at
    table.add_row("last ingest", last.isoformat(timespec="seconds") if last else "never")
    out.print(table)


# ---------- the database


@db_app.command("start")
@friendly_errors
def db_start() -> None:
    """Start the embedded server (if it is the warehouse) and print its URL."""
    config = settings()
    if config.database_url:
        out.print(f"PAPERHOUSE_DATABASE_URL is set: the warehouse is {redact(config.database_url)}")
        return
    print(EmbeddedServer(config.home).start())


@db_app.command("stop")
@friendly_errors
def db_stop() -> None:
    """Stop the embedded server."""
    config = settings()
    server = EmbeddedServer(config.home)
    if server.stop():
        out.print(f"stopped the embedded server in {server.pgdata}")
    else:
        out.print("the embedded server is not running")


@db_app.command("status")
@friendly_errors
def db_status(
    format: Annotated[OutputFormat, typer.Option("--format", "-f", help="Output format.")] = OutputFormat.table,
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
    if format is OutputFormat.json:
        print(json.dumps(info, indent=2))
        return
    table = Table(show_header=False)
    for key, value in info.items():
        table.add_row(key, Text("" if value is None else str(value)))
    out.print(table)


@db_app.command("url")
@friendly_errors
def db_url() -> None:
    """Print the warehouse's libpq URL for psql or a BI tool (starts the embedded server if needed)."""
    print(database_url(settings()))


@db_app.command(
    "psql", context_settings={"allow_extra_args": True, "ignore_unknown_options": True}
)
@friendly_errors
def db_psql(ctx: typer.Context) -> None:
    """Open psql on the warehouse; extra arguments go to psql."""
    url = prepare(settings())
    psql = str(psql_executable())
    sys.stdout.flush()
    os.execv(psql, [psql, url, *ctx.args])


def main() -> None:
    app()


if __name__ == "__main__":
    main()

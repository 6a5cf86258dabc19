"""The `paperhouse` command line: thin commands over ingest, the warehouse and its status.

Exit codes: 0 when every file got a status (rejected files included), 1 when
the warehouse or the build failed, 2 for a usage error.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from datetime import date, datetime
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
from orchestration.output import OutputFormat, as_record, as_table, show
from orchestration.queries import QueryFailed, ReadOnlyViolation
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
from orchestration.warehouse.readers import ReaderError

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


def friendly_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Turn the failures a user can act on into one clear line and exit code 1, not a traceback."""

    @wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except (
            WarehouseUnavailable,
            EmbeddedServerError,
            MigrationError,
            CalibrationError,
            ReadOnlyViolation,
            QueryFailed,
            ReaderError,
        ) as exc:
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
    if format is OutputFormat.table:
        _print_status(current, url)
    else:
        print(json.dumps(current.as_json(), indent=2))


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


# ---------- questions


FormatOption = Annotated[OutputFormat, typer.Option("--format", "-f", help="table, csv or json.")]


@app.command()
@friendly_errors
def sql(
    query: Annotated[str | None, typer.Argument(help="One SQL statement; it runs read-only.")] = None,
    file: Annotated[
        Path | None, typer.Option("--file", help="Read the statement from this file (- for stdin).")
    ] = None,
    format: FormatOption = OutputFormat.table,
    timeout: Annotated[float, typer.Option(help="Statement timeout in seconds.")] = 30.0,
) -> None:
    """Run one read-only SQL statement (writes and DDL are refused) and show its rows."""
    from orchestration.queries import run_read_only

    if file is not None:
        query = sys.stdin.read() if str(file) == "-" else file.read_text(encoding="utf-8")
    if not query or not query.strip():
        err.print("error: give a statement, or --file FILE")
        raise typer.Exit(2)
    url = prepare(settings())
    with connect(url) as conn:
        rows = run_read_only(conn, query, timeout)
    show(rows, format, out)


@app.command()
@friendly_errors
def search(
    text: Annotated[str, typer.Argument(help='Words to find; "quoted phrases", or, -excluded.')],
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="How many papers.")] = 20,
    format: FormatOption = OutputFormat.table,
) -> None:
    """Full-text search over titles and abstracts (a title match ranks higher)."""
    from orchestration.queries import search as search_papers

    with connect(prepare(settings())) as conn:
        show(search_papers(conn, text, limit), format, out)


@app.command()
@friendly_errors
def paper(
    paper_id: Annotated[str, typer.Argument(help="A paper_id (from search or dim_papers).")],
    format: FormatOption = OutputFormat.table,
) -> None:
    """One paper: its facts, keywords, title variants and every file and position it was seen in."""
    from orchestration.output import as_json
    from orchestration.queries import paper as find_paper

    with connect(prepare(settings())) as conn:
        report = find_paper(conn, paper_id)
    if report is None:
        err.print(Text(f"error: no paper with id {paper_id!r}", style="bold red"))
        raise typer.Exit(1)
    sections = {
        "paper": report.paper,
        "keywords": report.keywords,
        "title_variants": report.variants,
        "seen_in": report.sightings,
    }
    if format is OutputFormat.json:
        data = {name: json.loads(as_json(rows)) for name, rows in sections.items()}
        data["paper"] = data["paper"][0]
        print(json.dumps(data, indent=2))
    elif format is OutputFormat.csv:
        show(report.sightings, format, out)
    else:
        out.print(as_record(report.paper, title="paper"))
        for name, rows in list(sections.items())[1:]:
            out.print(as_table(rows, title=name.replace("_", " ")))


keywords_app = typer.Typer(help="Top keywords, and those rising fastest.", invoke_without_command=True)
app.add_typer(keywords_app, name="keywords")


def _month(value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return datetime.strptime(value, "%Y-%m").date()
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a month like 2025-10") from None


@keywords_app.callback()
@friendly_errors
def keywords(
    ctx: typer.Context,
    top: Annotated[int, typer.Option("--top", "-n", min=1, help="How many keywords.")] = 20,
    month: Annotated[str | None, typer.Option(help="Only papers of this month, YYYY-MM.")] = None,
    format: FormatOption = OutputFormat.table,
) -> None:
    """The keywords most papers carry, overall or in one month."""
    if ctx.invoked_subcommand is not None:
        return
    from orchestration.queries import top_keywords

    with connect(prepare(settings())) as conn:
        show(top_keywords(conn, top, _month(month)), format, out)


@keywords_app.command("trending")
@friendly_errors
def keywords_trending(
    top: Annotated[int, typer.Option("--top", "-n", min=1, help="How many keywords.")] = 20,
    format: FormatOption = OutputFormat.table,
) -> None:
    """Keywords rising fastest from the month before to the latest month."""
    from orchestration.queries import trending_keywords

    with connect(prepare(settings())) as conn:
        show(trending_keywords(conn, top), format, out)


class ExportFormat(str, Enum):
    csv = "csv"
    parquet = "parquet"


@app.command()
@friendly_errors
def export(
    format: Annotated[ExportFormat, typer.Option("--format", "-f", help="csv or parquet.")] = ExportFormat.csv,
    out_dir: Annotated[Path, typer.Option("--out", help="The folder to write to.")] = Path("export"),
) -> None:
    """Write every mart to a file (one per table) for pandas, spreadsheets and notebooks."""
    from orchestration.export import export_marts

    for path in export_marts(prepare(settings()), format.value, out_dir):
        out.print(Text(f"wrote {path} ({path.stat().st_size:,} bytes)"))


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
    if format is not OutputFormat.table:
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


@db_app.command("create-reader")
@friendly_errors
def db_create_reader(
    name: Annotated[str, typer.Argument(help="The login to create (or whose password to reset).")],
) -> None:
    """Create a read-only login for a BI tool: it reads the marts in analytics and nothing else.

    The password comes from $PAPERHOUSE_READER_PASSWORD, else a prompt that does not echo.
    """
    from orchestration.warehouse.readers import create_reader

    password = os.environ.get("PAPERHOUSE_READER_PASSWORD") or typer.prompt(
        f"password for {name}", hide_input=True, confirmation_prompt=True
    )
    url = create_reader(prepare(settings()), name, password)
    out.print(Text(f"created reader {name} (member of paperhouse_reader)"))
    out.print(Text("connection URL (the password is the one you just set):"))
    print(url)


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

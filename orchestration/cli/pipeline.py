"""Commands that move data: ingest, reingest, run, build, calibrate, and status."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from orchestration import pipeline
from orchestration.checks import CheckResult
from orchestration.cli.app import (
    ReportFormatOption,
    app,
    err,
    friendly_errors,
    out,
    say_waiting_for_build,
    say_waiting_for_features,
    say_waiting_for_lock,
    settings,
    utf8_text,
)
from orchestration.cli.recording import record_in_dagster
from orchestration.features import FAILED_LISTINGS_WARNING
from orchestration.ingest.batch import IngestReport
from orchestration.ingest.inbox import InboxFile, as_text
from orchestration.ingest.ledger import Outcome
from orchestration.ingest.load import FileResult
from orchestration.ingest.parse import PARSER_VERSION
from orchestration.keywords.calibrate import calibrate as calibrate_keywords
from orchestration.keywords.vocabulary import DOCUMENT_FREQUENCY_FILE
from orchestration.output import ReportFormat, cell, one_line_cell, visible
from orchestration.settings import Settings
from orchestration.status import WarehouseStatus, read_status
from orchestration.warehouse import connect, prepare, redact


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
    record_in_dagster("paperhouse ingest", config, url, ingest=report)


@app.command()
@friendly_errors
def reingest(
    outdated: Annotated[
        bool, typer.Option("--outdated", help="Re-parse the files an older parser version read.")
    ] = False,
    paths: Annotated[
        list[Path] | None,
        typer.Argument(help="Where the files are (default: the inbox).", exists=True),
    ] = None,
) -> None:
    """Re-parse files already ingested, replacing their listings atomically; the next build follows."""
    from orchestration.ingest.reparse import reparse_outdated

    if not outdated:
        err.print("error: say which files to re-parse: --outdated (those an older parser read)")
        raise typer.Exit(2)
    config = settings()
    url = prepare(config)
    report = IngestReport(results=reparse_outdated(url, paths or [config.inbox]))
    if not report.results:
        out.print(f"every file was read by the current parser (version {PARSER_VERSION})")
        return
    _print_ingest_report(report)
    record_in_dagster("paperhouse reingest", config, url, ingest=report)
    out.print("the marts follow on the next paperhouse build (or run)")


@app.command()
@friendly_errors
def run(
    inbox: Annotated[
        Path | None,
        typer.Option(help="The inbox folder (default: $PAPERHOUSE_INBOX or data/inbox)."),
    ] = None,
) -> None:
    """Ingest the inbox, build the models, and print what the warehouse holds."""
    config = settings()
    url = prepare(config)
    folder = inbox or config.inbox
    if not folder.is_dir():
        err.print(Text("error: ", style="bold red") + Text(f"the inbox {folder} is not a folder"))
        raise typer.Exit(2)
    report = _ingest_with_progress(url, [folder], config)
    _print_ingest_report(report)
    built = _build_with_progress(url, quiet=True)
    checks = pipeline.check_warehouse(url, config)
    _print_checks(checks)
    record_in_dagster(
        "paperhouse run",
        config,
        url,
        ingest=report,
        dbt=built.models.dbt,
        extraction=built.extraction,
        checks=checks,
    )
    with connect(url) as conn:
        _print_status(read_status(conn), url, replace(config, inbox=folder))
    if not built.succeeded:
        raise typer.Exit(1)


@app.command()
@friendly_errors
def build(
    full_refresh: Annotated[
        bool, typer.Option("--full-refresh", help="Rebuild incremental models from scratch.")
    ] = False,
    select: Annotated[
        str | None,
        typer.Option("--select", "-s", help="dbt node selection.", callback=utf8_text),
    ] = None,
) -> None:
    """Compute the features of new listings (keyphrases, search documents), then build the dbt models and run their tests."""
    config = settings()
    url = prepare(config)
    summary = _build_with_progress(url, full_refresh=full_refresh, select=select)
    record_in_dagster(
        "paperhouse build",
        config,
        url,
        dbt=summary.models.dbt,
        extraction=summary.extraction,
    )
    if not summary.succeeded:
        raise typer.Exit(1)


@app.command()
@friendly_errors
def calibrate() -> None:
    """Recompute the keyword reference frequencies (IDF) from the warehouse, then rebuild every keyword."""
    config = settings()
    url = prepare(config)
    phrases = calibrate_keywords(url)
    out.print(Text(f"wrote {phrases:,} phrases to {DOCUMENT_FREQUENCY_FILE}"))
    summary = _build_with_progress(url, quiet=True)
    record_in_dagster(
        "paperhouse calibrate",
        config,
        url,
        dbt=summary.models.dbt,
        extraction=summary.extraction,
    )
    if not summary.succeeded:
        raise typer.Exit(1)


def _build_with_progress(
    url: str, *, full_refresh: bool = False, select: str | None = None, quiet: bool = False
) -> pipeline.BuildReport:
    err.print("building the models (features step, then dbt build) ...")
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    ) as progress:
        task = progress.add_task("keyphrases and search documents", total=None)
        # Quiet, dbt prints only its errors: a bar of its nodes shows that a long build
        # (minutes for a first load) moves. Otherwise dbt prints a line per node itself.
        models = progress.add_task("dbt models and tests", total=None, start=False, visible=quiet)

        def node_ended(ended: int, total: int | None, name: str) -> None:
            progress.start_task(models)  # at its first node: the bar's clock is dbt's
            progress.update(models, completed=ended, total=total)

        report = pipeline.build(
            url,
            full_refresh=full_refresh,
            selection=select,
            quiet=quiet,
            # nothing pending: no bar of 0/0 beside the build's
            on_start=lambda total: progress.update(task, total=total, visible=total > 0),
            on_batch=lambda done: progress.update(task, advance=done),
            on_features_wait=say_waiting_for_features,
            on_build_wait=say_waiting_for_build,
            on_blocked=say_waiting_for_lock,
            on_node=node_ended if quiet else None,
        )
    _print_build_report(report)
    return report


def _print_build_report(report: pipeline.BuildReport) -> None:
    extraction, plan, dbt = report.extraction, report.models.plan, report.models.dbt
    if extraction.files:
        copied = (
            f" ({extraction.copied_listings:,} relisted texts copied)"
            if extraction.copied_listings
            else ""
        )
        out.print(
            f"features extracted: {extraction.listings:,} listings in {extraction.files:,} files"
            + copied
        )
    if extraction.failed_listings:
        err.print(Text(FAILED_LISTINGS_WARNING.format(extraction.failed_listings), style="yellow"))
    if plan.full_refresh:
        out.print(Text(f"a full refresh: {'; '.join(plan.full_refresh_because)}"))
    if dbt.succeeded:
        out.print(Text(f"models built: {dbt.describe()}", style="green"))
        return
    err.print(Text(f"dbt build failed: {dbt.describe()}", style="bold red"))
    for failure in dbt.failures:
        err.print(Text(f"  {failure}"))


def _print_checks(results: list[CheckResult]) -> None:
    for result in results:
        if result.passed:
            continue
        style = "yellow" if result.warn_only else "bold red"
        out.print(Text(f"check {result.name}: ", style=style) + Text(result.description))


@app.command()
@friendly_errors
def status(
    format: ReportFormatOption = ReportFormat.table,
) -> None:
    """Files by status, listings and papers in the warehouse."""
    config = settings()
    url = prepare(config)
    with connect(url) as conn:
        current = read_status(conn)
    if format is ReportFormat.table:
        _print_status(current, url, config)
    else:
        places = {"home": str(config.home)} if config.database_url is None else {}
        print(
            json.dumps({**current.as_json(), **places, "inbox": str(config.inbox)}, indent=2),
            file=out.file,
        )


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
        # a file name is data: escaped, it is never read as rich markup
        progress.update(
            task, advance=1, description=f"ingesting {escape(visible(result.name, one_line=True))}"
        )

    try:
        return pipeline.ingest(url, paths, config, on_start=started, on_file=finished)
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
    if noteworthy or report.not_ready:
        details = Table(title="Files to look at", title_justify="left", show_lines=False)
        details.add_column("file", overflow="fold")
        details.add_column("outcome")
        details.add_column("why", overflow="fold")
        # File names and messages are data: cells show them verbatim, never as markup.
        for result in noteworthy:
            style = OUTCOME_STYLES[result.outcome]
            details.add_row(
                one_line_cell(result.name),
                Text(result.outcome.value, style=style),
                cell(result.message),
            )
        for skipped in report.not_ready:
            details.add_row(
                one_line_cell(as_text(str(skipped.path))),
                Text("not ready", style="dim"),
                cell(skipped.reason),
            )
        out.print(details)
    if not report.results and not report.not_ready:
        out.print("no files found")


def _print_status(current: WarehouseStatus, url: str, config: Settings) -> None:
    table = Table(title="Warehouse", title_justify="left", show_header=False)
    table.add_column("what")
    table.add_column("count", justify="right")
    table.add_row("database", Text(redact(url)))
    if config.database_url is None:
        table.add_row("home", Text(str(config.home)))
    table.add_row("inbox", Text(str(config.inbox)))
    for status_name, count in current.files_by_status.items():
        table.add_row(f"files {status_name}", f"{count:,}")
    table.add_row("listings", f"{current.listings:,}")
    if current.listings_without_keyphrases:  # a bug of the rule: see the check no_keyphrase_error
        table.add_row(
            Text("listings without keyphrases", style="yellow"),
            f"{current.listings_without_keyphrases:,}",
        )
    table.add_row(
        "papers", f"{current.papers:,}" if current.papers is not None else "not built yet"
    )
    last = current.last_ingested_at
    table.add_row("last ingest", last.isoformat(timespec="seconds") if last else "never")
    out.print(table)

"""`paperhouse bench`: the benchmark harness (orchestration/bench) on the command line."""

from __future__ import annotations

import io
import json
import os
import signal
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from orchestration.bench.harness import BenchReport, run_bench
from orchestration.cli.app import app, err, friendly_errors, out, reason
from orchestration.ingest.inbox import as_text

# Bounds on what the harness writes to disk: ten million listings are about 10 GB of inbox
# and 30 GB of warehouse.
MOST_LISTINGS = 10_000_000
MOST_BIG_FILE_MB = 10_000


class BenchFormat(StrEnum):
    table = "table"
    json = "json"


def _report_path(path: Path | None) -> Path | None:
    """--out, checked before a run of up to half an hour rather than after it."""
    if path is None:
        return None
    if path.is_dir():
        raise typer.BadParameter(f"{path} is a folder: give the report a file name")
    if not path.parent.is_dir():
        raise typer.BadParameter(f"the folder {path.parent} does not exist")
    if not os.access(path.parent, os.W_OK):
        raise typer.BadParameter(f"the folder {path.parent} is not writable")
    return path


@app.command()
@friendly_errors
def bench(
    listings: Annotated[
        int,
        typer.Option(
            "--listings",
            "-n",
            min=1,
            max=MOST_LISTINGS,
            help="Listings in the synthetic inbox (about 1 KB of inbox each, and three times "
            "that in the warehouse).",
        ),
    ] = 100_000,
    format: Annotated[
        BenchFormat, typer.Option("--format", "-f", help="table or json.")
    ] = BenchFormat.table,
    output: Annotated[
        Path | None,
        typer.Option("--out", help="Also write the report to this file.", callback=_report_path),
    ] = None,
    big_file_mb: Annotated[
        int,
        typer.Option(
            help="Size of the single big file whose ingest memory is measured.",
            min=1,
            max=MOST_BIG_FILE_MB,
        ),
    ] = 500,
    workdir: Annotated[
        Path | None,
        typer.Option(help="Where the synthetic inbox is written (default: a temporary folder)."),
    ] = None,
) -> None:
    """Measure ingest, builds, incremental runs and queries on a synthetic inbox of N listings.

    Runs on a fresh embedded server, or creates its own databases on the server
    of PAPERHOUSE_DATABASE_URL; it never touches the warehouse's data.
    """
    # Stopped by SIGTERM or a closed terminal, a bench cleans up as after Ctrl-C: its finally
    # blocks drop its databases, stop its embedded server and remove its temporary folder,
    # gigabytes at a million listings, which a process killed outright leaves behind.
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _interrupt)
    if workdir is not None:
        _make_workdir(workdir)
    report = run_bench(
        listings,
        big_file_bytes=big_file_mb * 1024 * 1024,
        small_listings=min(10_000, listings),
        workdir=workdir,
        log=lambda message: err.print(Text(message, style="dim")),
    )
    if format is BenchFormat.json:
        rendered = json.dumps(report.as_json(), indent=2)
        print(rendered, file=out.file)
    else:
        table = report_table(report)
        out.print(table)
        recorder = Console(record=True, width=110, file=io.StringIO())
        recorder.print(table)
        rendered = recorder.export_text()
    if output is not None:
        try:
            output.write_text(rendered + "\n", encoding="utf-8")
        except OSError as exc:  # the folder went away or the disk filled up during the run
            where = as_text(str(output))
            err.print(
                Text(
                    f"error: cannot write the report to {where}: {exc.strerror or exc} "
                    "(it is printed above)"
                ),
                highlight=False,
            )
            raise typer.Exit(1) from None


def _make_workdir(workdir: Path) -> None:
    try:
        workdir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:  # a file of that name, or a parent that cannot hold a folder
        err.print(
            Text(f"error: cannot use {as_text(str(workdir))} as the bench's folder: {reason(exc)}"),
            highlight=False,
        )
        raise typer.Exit(1) from None


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def report_table(report: BenchReport) -> Table:
    machine = ", ".join(f"{key} {value}" for key, value in report.machine.items())
    table = Table(
        title=f"paperhouse bench, {report.listings:,} listings",
        caption=machine,
        title_justify="left",
    )
    table.add_column("measurement")
    table.add_column("value", justify="right")
    table.add_column("unit")
    table.add_column("target")
    table.add_column("met")
    for m in report.measurements:
        met = "" if m.met is None else ("[green]yes[/]" if m.met else "[bold red]no[/]")
        value = f"{m.value:,.2f}" if m.value < 100 else f"{m.value:,.0f}"
        table.add_row(m.name, value, m.unit, m.target or "", met)
    return table

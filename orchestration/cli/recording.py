"""The command line's side of Dagster's history: open the warehouse's Dagster instance while a
command works, then report what the command did (orchestration/history.py)."""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor

from rich.text import Text

from orchestration import pipeline
from orchestration.checks import CheckResult
from orchestration.cli import err
from orchestration.features import ExtractionSummary
from orchestration.ingest.batch import IngestReport
from orchestration.models.runner import BuildSummary
from orchestration.settings import Settings
from orchestration.warehouse import first_line


def open_history(config: Settings, url: str) -> Future | None:
    """Import Dagster and open the warehouse's Dagster instance on a thread of its own, for
    `record_in_dagster`: the two seconds that takes pass while the command works (dbt runs in a
    process of its own, so the build's wait hides them). None where the history is turned off."""
    if not config.dagster_history:
        return None

    def open_instance():
        from orchestration import history

        return history, history.open_instance(config, url)

    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="dagster-history")
    opening = pool.submit(open_instance)
    pool.shutdown(wait=False)  # the thread ends with its one task
    return opening


def record_in_dagster(
    command: str,
    opening: Future | None,
    config: Settings,
    url: str,
    *,
    ingest: IngestReport | None = None,
    extraction: ExtractionSummary | None = None,
    dbt: BuildSummary | None = None,
    checks: list[CheckResult] | None = None,
) -> None:
    """Report what `command` did to Dagster's instance, so the UI shows it (orchestration/history.py).

    The data is in the warehouse whatever happens here: a failure is one line
    of warning, never the command's failure. Nothing happens where the history is off.
    """
    if opening is None:
        return
    try:
        history, instance = opening.result()
        run = history.CommandRun(
            command,
            ingest=ingest,
            extraction=extraction,
            dbt=dbt,
            checks=pipeline.check_warehouse(url, config) if checks is None else checks,
        )
        with instance:
            history.report(history.asset_events(run, history.read_manifest()), instance)
    except Exception as exc:  # any failure of Dagster's storage is only a warning
        err.print(
            Text("warning: ", style="yellow")
            + Text(f"the Dagster UI's history was not updated: {first_line(exc)}")
        )

"""The command line's side of Dagster's history: leave what a command did in a file, and start
the process that reports it to the warehouse's Dagster instance (orchestration/history.py).

The command returns at once: Dagster's import and the instance (about two
seconds of CPU) happen in that process, after the command's work, so an
ingest never shares its cores or its GIL with them. What it reports lands a
few seconds after the command ends. A storage that cannot be reached is
told at once, as a warning; a report that fails later is written to
history.log in the Dagster home; a report whose process died before it was
delivered is delivered by the next one (orchestration.history.report_pending).
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import tempfile

import psycopg
from rich.text import Text

from orchestration import pipeline
from orchestration.checks import CheckResult
from orchestration.cli.app import err
from orchestration.features import ExtractionSummary
from orchestration.ingest.batch import IngestReport
from orchestration.instance import PENDING_REPORT_PREFIX, dagster_home, storage_url
from orchestration.models.runner import BuildSummary
from orchestration.settings import Settings
from orchestration.warehouse import first_line


def record_in_dagster(
    command: str,
    config: Settings,
    url: str,
    *,
    ingest: IngestReport | None = None,
    extraction: ExtractionSummary | None = None,
    dbt: BuildSummary | None = None,
    checks: list[CheckResult] | None = None,
) -> None:
    """Have what `command` did reported to Dagster's instance, so the UI shows it.

    The data is in the warehouse whatever happens here: a failure is one line
    of warning, never the command's failure. Nothing happens where the history is off.
    """
    if not config.dagster_history:
        return
    try:
        parts = {
            "command": command,
            "ingest": ingest,
            "extraction": extraction,
            "dbt": dbt,
            "checks": pipeline.check_warehouse(url, config) if checks is None else checks,
        }
        with psycopg.connect(storage_url(config, url), connect_timeout=5):
            pass  # unreachable storage: said now, where the user sees it
        home = dagster_home(config)
        descriptor, path = tempfile.mkstemp(
            dir=home, prefix=PENDING_REPORT_PREFIX, suffix=".pickle"
        )
        with os.fdopen(descriptor, "wb") as pending:  # mkstemp's 0600: the URL may hold a password
            pickle.dump((config, url, parts), pending)
        with open(home / "history.log", "ab") as log:
            subprocess.Popen(
                [sys.executable, "-m", "orchestration.history", path],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,  # a Ctrl-C after the command leaves it to finish
            )
    except Exception as exc:  # any failure of Dagster's storage is only a warning
        err.print(
            Text("warning: ", style="yellow")
            + Text(f"the Dagster UI's history was not updated: {first_line(exc)}")
        )

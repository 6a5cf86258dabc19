"""Dagster's instance for this warehouse: its home, its storage, and the code it loads.

One instance a warehouse, whoever writes to it: `paperhouse ui` (the
webserver, the daemon and the runs they launch) and the CLI's own runs,
which it reports as asset events (orchestration/history.py). Its home is
$PAPERHOUSE_HOME/dagster, its instance file docker/dagster.yaml (copied in
at every start) and its storage PostgreSQL: a `dagster` database beside the
embedded warehouse, or PAPERHOUSE_DAGSTER_DATABASE_URL, or else the
warehouse database itself (its tables land in the public schema).
"""

from __future__ import annotations

import contextlib
import json
import shutil
from pathlib import Path

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from orchestration.settings import DAGSTER_INSTANCE_FILE, PROJECT_ROOT, Settings
from orchestration.warehouse import connect, sqlalchemy_url
from orchestration.warehouse.embedded import close_to_public

DAGSTER_DATABASE = "dagster"
# The code location's name everywhere: here, in docker/workspace.yaml and in pyproject's [tool.dg].
LOCATION_NAME = "paperhouse"
# A CLI command's report in flight (orchestration/cli/recording.py): a file in the Dagster home,
# deleted by the process that reports it.
PENDING_REPORT_PREFIX = ".history-"


def pending_reports(settings: Settings) -> list[Path]:
    """The reports of commands that Dagster's instance has not received yet."""
    return pending_reports_in(_home(settings))


def pending_reports_in(home: Path) -> list[Path]:
    """pending_reports of the Dagster home `home`."""
    return sorted(home.glob(f"{PENDING_REPORT_PREFIX}*"))


def _home(settings: Settings) -> Path:
    return settings.home / "dagster"


def dagster_home(settings: Settings) -> Path:
    """$PAPERHOUSE_HOME/dagster with the instance file and the local workspace in it."""
    home = _home(settings)
    home.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(DAGSTER_INSTANCE_FILE, home / "dagster.yaml")
    # JSON is YAML: the workspace names the location as the compose stack does,
    # so Dagster does not warn that dg's project name and the location's differ.
    workspace = {
        "load_from": [
            {
                "python_module": {
                    "module_name": "orchestration.definitions",
                    "location_name": LOCATION_NAME,
                    "working_directory": str(PROJECT_ROOT),
                }
            }
        ]
    }
    (home / "workspace.yaml").write_text(json.dumps(workspace, indent=2) + "\n")
    return home


def storage_url(settings: Settings, warehouse_url: str) -> str:
    """Where Dagster keeps runs and events: never SQLite."""
    if settings.dagster_database_url:
        return settings.dagster_database_url
    if settings.database_url:
        return warehouse_url  # an external server: do not assume we may create databases
    with connect(warehouse_url) as conn, contextlib.suppress(psycopg.errors.DuplicateDatabase):
        exists = conn.execute(
            "select 1 from pg_database where datname = %s", [DAGSTER_DATABASE]
        ).fetchone()
        if not exists:
            conn.execute(f'create database "{DAGSTER_DATABASE}"')
            close_to_public(conn, (DAGSTER_DATABASE,))
    params = conninfo_to_dict(warehouse_url)
    params["dbname"] = DAGSTER_DATABASE
    return make_conninfo("", **params)


def instance_env(settings: Settings, warehouse_url: str) -> dict[str, str]:
    """DAGSTER_HOME and the storage URL the instance file reads."""
    return {
        "DAGSTER_HOME": str(dagster_home(settings)),
        # psycopg2, named: on psycopg 3 dagster-postgres's event log fails (it binds
        # parameters into NOTIFY).
        "DAGSTER_POSTGRES_URL": sqlalchemy_url(storage_url(settings, warehouse_url), "psycopg2"),
    }

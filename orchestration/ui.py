"""`paperhouse ui`: the Dagster webserver and daemon (`dagster dev`) over the CLI's warehouse and
Dagster instance (orchestration/instance.py); the CLI serves it with
workers.serve_until_stopped, so Ctrl-C ends all of it."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from orchestration.instance import instance_env
from orchestration.models.runner import dbt_env, parse_project
from orchestration.settings import Settings
from orchestration.warehouse import prepare

# How long dagster dev gets to end its webserver, daemon and code servers
# after Ctrl-C before whatever is left of them is killed.
STOP_GRACE_SECONDS = 10.0


def dagster_dev_command(dagster_home: str, host: str, port: int) -> list[str]:
    dagster = str(Path(sys.executable).parent / "dagster")
    workspace = str(Path(dagster_home) / "workspace.yaml")
    return [dagster, "dev", "-w", workspace, "-h", host, "-p", str(port)]


def ui_environment(settings: Settings) -> dict[str, str]:
    """The environment `dagster dev` runs in: the CLI's warehouse, Dagster's home and storage."""
    url = prepare(settings)
    parse_project()
    env = dbt_env(url, os.environ)
    env.update(
        instance_env(settings, url),
        PAPERHOUSE_HOME=str(settings.home),
        PAPERHOUSE_INBOX=str(settings.inbox),
        # dagster dev is superseded by `dg dev`, which wants a uv-managed
        # project; the notice would be the first line a newcomer reads.
        PYTHONWARNINGS="ignore:Function `dev_command` is superseded",
    )
    if settings.database_url:
        env["PAPERHOUSE_DATABASE_URL"] = settings.database_url
    return env

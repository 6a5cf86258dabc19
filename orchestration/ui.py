"""`paperhouse ui`: the Dagster webserver and daemon (`dagster dev`) over the CLI's warehouse.

Dagster's home is $PAPERHOUSE_HOME/dagster, its instance settings the repo's
dagster.yaml, and its storage PostgreSQL: a `dagster` database beside the
embedded warehouse, or PAPERHOUSE_DAGSTER_DATABASE_URL, or else the
warehouse database itself (its tables land in the public schema).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
from pathlib import Path

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from orchestration.models.runner import dbt_env, parse_project
from orchestration.settings import DAGSTER_INSTANCE_FILE, Settings
from orchestration.warehouse import connect, prepare
from orchestration.warehouse.embedded import close_to_public

DAGSTER_DATABASE = "dagster"


def dagster_home(settings: Settings) -> Path:
    home = settings.home / "dagster"
    home.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(DAGSTER_INSTANCE_FILE, home / "dagster.yaml")
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


def as_url(conninfo: str) -> str:
    """Any libpq connection string as the SQLAlchemy URL dagster-postgres takes.

    The driver is named: SQLAlchemy 2.1 defaults to psycopg 3, on which
    dagster-postgres's event log fails (it binds parameters into NOTIFY).
    """
    params = conninfo_to_dict(conninfo)
    auth = params.get("user", "")
    if params.get("password"):
        auth += f":{params['password']}"
    host = params.get("host", "localhost")
    port = f":{params['port']}" if params.get("port") else ""
    return f"postgresql+psycopg2://{auth}@{host}{port}/{params.get('dbname', '')}"


def dagster_dev_command(host: str, port: int) -> list[str]:
    dagster = str(Path(sys.executable).parent / "dagster")
    return [dagster, "dev", "-m", "orchestration.definitions", "-h", host, "-p", str(port)]


def ui_environment(settings: Settings) -> dict[str, str]:
    """The environment `dagster dev` runs in: the CLI's warehouse, Dagster's home and storage."""
    url = prepare(settings)
    parse_project()
    env = dbt_env(url, os.environ)
    env.update(
        DAGSTER_HOME=str(dagster_home(settings)),
        DAGSTER_POSTGRES_URL=as_url(storage_url(settings, url)),
        PAPERHOUSE_HOME=str(settings.home),
        PAPERHOUSE_INBOX=str(settings.inbox),
    )
    if settings.database_url:
        env["PAPERHOUSE_DATABASE_URL"] = settings.database_url
    return env

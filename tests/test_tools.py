"""dbt's own tools through paperhouse (`paperhouse dbt ...`, `paperhouse docs`), on the CLI's warehouse."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from orchestration import pipeline
from orchestration.features import EXTRACTION_LOCK_KEY
from orchestration.models.plan import BUILD_LOCK_KEY, BUILD_WAIT, build_turn
from orchestration.models.runner import target_path
from orchestration.settings import DBT_PROJECT_DIR
from orchestration.warehouse import take_session_lock

from conftest import run_cli, start_server

BIN = Path(sys.executable).parent


@pytest.mark.parametrize(
    "args,writes",
    [
        (["build"], True),
        (["run", "-s", "dim_papers"], True),
        (["--log-level", "debug", "build"], True),  # a flag's value before the command
        (["docs", "generate"], False),
        (["show", "--inline", "select 1"], False),
        (["test"], False),
    ],
)
def test_dbt_commands_that_write_the_marts_are_known_wherever_the_command_stands(args, writes):
    assert pipeline.dbt_writes(args) is writes


@pytest.mark.parametrize(
    "args,waits",
    [
        (["ls"], True),
        (["docs", "generate"], True),
        (["clean"], True),  # it empties the folder a build is writing
        (["docs", "serve", "--port", "8080"], False),  # it serves until stopped
    ],
)
def test_every_dbt_command_but_a_server_waits_for_the_build_in_progress(args, waits):
    assert pipeline.dbt_waits_for_builds(args) is waits


def test_dbt_commands_run_on_the_warehouse_and_builds_take_the_plan(cli_env, db_url, inbox):
    assert run_cli("run", "--inbox", str(inbox), env=cli_env).returncode == 0
    # as a dbt user types it: no PAPERHOUSE_DBT_* variables in sight
    assert not [name for name in cli_env if name.startswith("PAPERHOUSE_DBT_")]
    shown = run_cli(
        "dbt",
        "show",
        "--inline",
        "select count(*) as n from {{ ref('dim_papers') }}",
        env=cli_env,
    )
    assert shown.returncode == 0, shown.stdout + shown.stderr
    with psycopg.connect(db_url) as conn:
        papers = conn.execute("select count(*) from analytics.dim_papers").fetchone()[0]
    assert f"| {papers} " in shown.stdout

    built = run_cli("dbt", "build", "-s", "dim_keywords", env=cli_env)
    assert built.returncode == 0, built.stdout + built.stderr
    with psycopg.connect(db_url) as conn:
        logged = conn.execute(
            "select selection, succeeded from meta.builds order by build_id desc limit 1"
        ).fetchone()
    assert logged == ("build -s dim_keywords", True)

    wrong = run_cli("dbt", "nosuchcommand", env=cli_env)
    assert wrong.returncode != 0
    assert "nosuchcommand" in wrong.stdout + wrong.stderr


def waiting_for_the_build_turn(
    db_url: str, command: subprocess.Popen, key: int = BUILD_LOCK_KEY
) -> None:
    """Return once a session on `db_url` waits for the advisory lock `key` (the build's turn,
    which the caller holds); fail if `command` ends first."""
    with psycopg.connect(db_url, autocommit=True) as watcher:
        deadline = time.monotonic() + 60
        while not watcher.execute(
            "select count(*) from pg_locks where locktype = 'advisory' and not granted"
            " and database = (select oid from pg_database where datname = current_database())"
            " and (classid::bigint << 32 | objid::bigint) = %s",
            [key],
        ).fetchone()[0]:
            assert command.poll() is None, "the command ran without waiting for the build's turn"
            assert time.monotonic() < deadline, "the command never asked for the build's turn"
            time.sleep(0.05)


@pytest.mark.parametrize(
    "args,shown",
    [
        (["--quiet", "ls", "-s", "dim_papers"], "paperhouse.marts.dim_papers"),
        (["run", "-s", "stg_raw__ingested_files"], "stg_raw__ingested_files"),
    ],
)
def test_a_dbt_command_waits_for_the_build_in_progress_and_says_so(cli_env, db_url, args, shown):
    # dbt's commands share one target folder per warehouse (manifest, run results), which a
    # build reads back when it ends: `dbt ls` in the middle of a build waits its turn, as
    # another build does.
    paperhouse = BIN / "paperhouse"
    with build_turn(db_url):
        command = subprocess.Popen(
            [str(paperhouse), "dbt", *args],
            env=cli_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        waiting_for_the_build_turn(db_url, command)
    out, _ = command.communicate(timeout=120)
    assert command.returncode == 0, out
    assert shown in out
    assert "waiting for it" in out  # said, so that a wait does not look like a hang


def test_paperhouse_build_waits_for_the_features_step_and_the_build_in_progress_and_says_so(
    cli_env, db_url
):
    with psycopg.connect(db_url, autocommit=True) as extraction:
        take_session_lock(extraction, EXTRACTION_LOCK_KEY)
        features_key = extraction.execute(
            sql.SQL("select {}::bigint").format(EXTRACTION_LOCK_KEY)
        ).fetchone()[0]
        with build_turn(db_url):
            command = subprocess.Popen(
                [str(BIN / "paperhouse"), "build"],
                env=cli_env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            waiting_for_the_build_turn(db_url, command, features_key)
            extraction.close()  # the features step goes on, then waits for the build's turn
            waiting_for_the_build_turn(db_url, command)
    out, _ = command.communicate(timeout=300)
    assert command.returncode == 0, out
    assert "another features step is running on this warehouse: waiting for it" in out
    assert BUILD_WAIT in out


@pytest.mark.slow
def test_paperhouse_docs_serves_the_models_with_the_warehouses_catalog(
    cli_env, db_url, inbox, tmp_path
):
    assert run_cli("run", "--inbox", str(inbox), env=cli_env).returncode == 0
    catalog_file = DBT_PROJECT_DIR / target_path(db_url) / "catalog.json"
    catalog_file.unlink(missing_ok=True)  # from an earlier run of the suite in this checkout
    # a build in progress: the catalog waits for it
    with build_turn(db_url):
        server, port = start_server("docs", cli_env, tmp_path / "docs.log")
        waiting_for_the_build_turn(db_url, server)
        assert not catalog_file.exists()
    catalog: dict = {}
    try:
        deadline = time.monotonic() + 120
        while not catalog:
            assert server.poll() is None, "paperhouse docs exited"
            assert time.monotonic() < deadline, "the docs server did not answer in time"
            time.sleep(1)
            with (
                contextlib.suppress(OSError, ValueError),
                urllib.request.urlopen(f"http://127.0.0.1:{port}/catalog.json", timeout=5) as got,
            ):
                catalog = json.loads(got.read())
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as page:
            assert b"dbt" in page.read()
        os.killpg(server.pid, signal.SIGINT)
        server.wait(timeout=15)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGKILL)
    # the catalog was read from the warehouse: the marts with their real columns
    papers = catalog["nodes"]["model.paperhouse.dim_papers"]
    assert "paper_id" in papers["columns"]
    assert catalog_file.exists()

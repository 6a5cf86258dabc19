"""The `paperhouse` console script, run as a user runs it: a separate process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
import sqlalchemy

from conftest import SEED_LISTINGS, embedded_home, run_cli


def test_ingest_then_status_as_json(cli_env, inbox):
    done = run_cli("ingest", str(inbox), env=cli_env)
    assert done.returncode == 0, done.stderr
    assert "loaded" in done.stdout and f"{SEED_LISTINGS}" in done.stdout

    status = run_cli("status", "--format", "json", env=cli_env)
    assert status.returncode == 0, status.stderr
    data = json.loads(status.stdout)
    assert data["files_by_status"] == {"loaded": 5, "duplicate": 0, "empty": 0, "rejected": 0}
    assert data["listings"] == SEED_LISTINGS
    assert data["files"] == 5


def test_status_reports_offer_only_the_formats_they_print(cli_env):
    for command in (["status"], ["db", "status"]):
        assert "table or json" in run_cli(*command, "--help", env=cli_env).stdout
        done = run_cli(*command, "--format", "csv", env=cli_env)
        assert done.returncode == 2, done.stdout  # a usage error, not JSON under another name
        assert "csv" in done.stderr and not done.stdout


def test_db_url_prints_a_plain_url_and_the_sqlalchemy_form_for_each_driver(cli_env, db_url):
    plain = run_cli("db", "url", env=cli_env).stdout.strip()
    assert plain.startswith("postgresql://")
    assert psycopg.conninfo.conninfo_to_dict(plain) == psycopg.conninfo.conninfo_to_dict(db_url)
    for driver in ("psycopg", "psycopg2"):
        done = run_cli("db", "url", "--sqlalchemy", driver, env=cli_env)
        assert done.returncode == 0, done.stderr
        url = sqlalchemy.engine.make_url(done.stdout.strip())
        assert url.drivername == f"postgresql+{driver}"
        assert (url.host, url.port, url.database) == (
            sqlalchemy.engine.make_url(plain).host,
            sqlalchemy.engine.make_url(plain).port,
            sqlalchemy.engine.make_url(plain).database,
        )
    with sqlalchemy.create_engine(
        run_cli("db", "url", "--sqlalchemy", "psycopg", env=cli_env).stdout.strip()
    ).connect() as engine:
        assert engine.execute(sqlalchemy.text("select 1")).scalar() == 1


def test_run_ingests_the_inbox_from_the_environment_and_summarizes(cli_env, inbox):
    cli_env["PAPERHOUSE_INBOX"] = str(inbox)
    done = run_cli("run", env=cli_env)
    assert done.returncode == 0, done.stderr
    assert "files loaded" in done.stdout and "listings" in done.stdout
    again = run_cli("run", env=cli_env)
    assert again.returncode == 0 and "unchanged" in again.stdout


def test_rejected_files_still_exit_zero_and_are_explained(cli_env, tmp_path):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "archive.txt").write_bytes(b"PK\x03\x04" + bytes(500))
    # Markup-like and format-like text in a name must be shown as it is.
    (bad / "[bold]{0}%s.txt").write_text("hello\nworld\n")
    done = run_cli("ingest", str(bad), env=cli_env)
    assert done.returncode == 0, done.stderr
    assert "ZIP archive" in done.stdout
    assert "[bold]{0}%s.txt" in done.stdout
    assert "not a listing page" in done.stdout


@pytest.mark.parametrize(
    "command",
    [["search", "diffusion \udcff"], ["sql", "select '\udcff'"], ["build", "--select", "x\udcff"]],
)
def test_text_arguments_that_are_not_utf8_are_refused_in_one_line(cli_env, command):
    # os.fsdecode(b"\xff") is "\udcff": the process receives the byte 0xff itself
    done = run_cli(*command, env=cli_env)
    assert done.returncode == 2
    assert "not UTF-8 text: byte 0xff at character" in done.stderr
    assert "Traceback" not in done.stderr
    assert done.stdout == ""


def test_an_unreachable_warehouse_is_a_clear_error_not_a_traceback(cli_env, inbox):
    cli_env["PAPERHOUSE_DATABASE_URL"] = (
        "postgresql://postgres@127.0.0.1:1/nowhere?connect_timeout=3"
    )
    done = run_cli("ingest", str(inbox), env=cli_env)
    assert done.returncode == 1
    assert "cannot connect to the warehouse" in done.stderr
    assert "Traceback" not in done.stderr + done.stdout


# The result is far more than a pipe holds (64 KB), so the command is still writing when its
# reader leaves: csv and json through the spooled result, a table through rich, in one print.
@pytest.mark.parametrize("format", ["csv", "json", "table"])
def test_a_reader_that_stops_early_ends_the_command_quietly_with_sigpipes_code(cli_env, format):
    paperhouse = Path(sys.executable).parent / "paperhouse"
    query = "select g, repeat(md5(g::text), 3) from generate_series(1, 20000) g"
    command = subprocess.Popen(
        [str(paperhouse), "sql", query, "--format", format],
        env=cli_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    first = command.stdout.readline()  # what `| head -1` reads before it exits
    command.stdout.close()
    stderr = command.stderr.read()
    assert command.wait(timeout=60) == 128 + 13, stderr  # as a shell reports `cat` ended by SIGPIPE
    assert first.strip()
    assert stderr == ""  # no traceback, no "Exception ignored" from the final flush


# Output through each of the commands' ways of writing: rich, the spooled CSV, print().
@pytest.mark.parametrize(
    "args",
    [("sql", "select 1", "--format", "csv"), ("sql", "select 1"), ("db", "url")],
    ids=["csv", "table", "print"],
)
@pytest.mark.parametrize("stdout", ["full disk", "closed"])
def test_output_that_cannot_be_written_is_one_line_and_exit_1(cli_env, args, stdout):
    paperhouse = Path(sys.executable).parent / "paperhouse"
    with open("/dev/full", "w") as full:  # every write to it fails with ENOSPC
        done = subprocess.run(
            [str(paperhouse), *args],
            env=cli_env,
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
            # Python gives a process started without descriptor 1 a stdout of None
            preexec_fn=(lambda: os.close(1)) if stdout == "closed" else None,
        )
    reason = "No space left on device" if stdout == "full disk" else "standard output is closed"
    assert done.returncode == 1, done.stderr
    assert done.stderr == f"error: cannot write the output: {reason}\n"


def test_a_connection_lost_mid_file_fails_clearly_and_the_rerun_completes(cli_env, db_url, inbox):
    with psycopg.connect(db_url, autocommit=True) as conn:
        # The server ends the ingesting session itself at the 100th listing of a file.
        conn.execute(
            """
            create function raw.die_mid_file() returns trigger language plpgsql as $$
            begin
                if new.position = 100 then perform pg_terminate_backend(pg_backend_pid()); end if;
                return new;
            end $$;
            create trigger die_mid_file before insert on raw.paper_listings
                for each row execute function raw.die_mid_file();
            """
        )
    done = run_cli("ingest", str(inbox), env=cli_env)
    assert done.returncode == 1
    assert "lost the warehouse while ingesting 000_992833ff42967d4f.txt" in done.stderr
    assert "Traceback" not in done.stderr
    with psycopg.connect(db_url, autocommit=True) as conn:
        assert conn.execute("select count(*) from raw.ingested_files").fetchone() == (0,)
        conn.execute("drop trigger die_mid_file on raw.paper_listings")
    assert run_cli("ingest", str(inbox), env=cli_env).returncode == 0
    with psycopg.connect(db_url, autocommit=True) as conn:
        assert conn.execute("select count(*) from raw.paper_listings").fetchone() == (
            SEED_LISTINGS,
        )


def test_db_commands_manage_the_embedded_server():
    with embedded_home() as home:
        # a folder name that reads as rich markup: the commands print it verbatim
        db_commands_scenario(home / "[bold]odd[/bold]")


def db_commands_scenario(home):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERHOUSE_")}
    env["PAPERHOUSE_HOME"] = str(home)
    try:
        before = json.loads(run_cli("db", "status", "--format", "json", env=env).stdout)
        assert before["running"] is False and before["kind"] == "embedded"

        url = run_cli("db", "url", env=env)
        assert url.returncode == 0, url.stderr
        url_text = url.stdout.strip()
        assert url_text.startswith("postgresql://postgres@127.0.0.1:") and url_text.endswith(
            "/paperhouse"
        )

        # The URL works for a client that is not paperhouse, and the server kept running.
        with psycopg.connect(url_text) as conn:
            assert conn.execute("select current_database()").fetchone() == ("paperhouse",)
            # no page checksums: docs/operations.md, "Configuration"
            assert conn.execute("show data_checksums").fetchone() == ("off",)
        running = json.loads(run_cli("db", "status", "--format", "json", env=env).stdout)
        assert running["running"] is True and url_text == running["url"]
        assert (home / "server.json").exists()

        psql = run_cli("db", "psql", "-tAc", "select 6 * 7", env=env)
        assert psql.returncode == 0 and psql.stdout.strip() == "42"

        assert run_cli("db", "start", env=env).stdout.strip() == url_text  # idempotent
    finally:
        stopped = run_cli("db", "stop", env=env)
    assert (
        stopped.returncode == 0
        and f"stopped the embedded server in {home / 'pgdata'}" in stopped.stdout
    )
    after = json.loads(run_cli("db", "status", "--format", "json", env=env).stdout)
    assert after["running"] is False
    again = run_cli("db", "stop", env=env)
    assert again.returncode == 0 and "not running" in again.stdout
    # Restarting keeps the recorded port, so a BI tool's saved connection keeps working.
    try:
        assert run_cli("db", "url", env=env).stdout.strip() == url_text
    finally:
        run_cli("db", "stop", env=env)

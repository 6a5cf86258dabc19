"""A command kept waiting by another session's lock names that session, and goes on when it ends
(orchestration/warehouse/lock_waits.py)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import make_conninfo

from orchestration.warehouse.lock_waits import (
    DBT_APPLICATION_NAME,
    Blocker,
    describe,
    read_blockers,
)

from conftest import LinesRead, run_cli


def test_a_full_build_names_the_reader_it_waits_for_and_goes_on_when_it_ends(
    cli_env, db_url, inbox
):
    first = run_cli("run", "--inbox", str(inbox), env=cli_env)
    assert first.returncode == 0 and "waits for session" not in first.stderr
    paperhouse = Path(sys.executable).parent / "paperhouse"
    # a dashboard's transaction left open on a mart that a full build replaces
    with psycopg.connect(db_url, application_name="a dashboard") as reader:
        # its statement holds an escape sequence that would clear a terminal
        reader.execute("select count(*) /* \x1b[2J */ from analytics.dim_papers")
        pid, user = reader.info.backend_pid, reader.info.user
        build = subprocess.Popen(
            [str(paperhouse), "build", "--full-refresh"],
            env=cli_env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            stderr = LinesRead(build.stderr)
            said = stderr.wait_for("the build waits for session")
            time.sleep(3)  # three more of the watcher's looks at the same wait
            assert build.poll() is None  # waiting, not failed
        except BaseException:
            build.kill()
            raise
        reader.rollback()
    assert build.wait(timeout=180) == 0, stderr.text()
    assert f"session {pid}, which holds a lock on analytics.dim_papers" in said
    assert f"({user}, a dashboard, idle in transaction for " in said
    assert ": select count(*) /* ␛[2J */ from analytics.dim_papers)" in said
    assert f"`select pg_terminate_backend({pid})`" in said
    assert stderr.text().count("waits for session") == 1  # once, however long it waited


def test_a_session_of_another_login_is_named_by_what_this_login_may_see(db_url):
    # Not a superuser: PostgreSQL hides another login's state, times and statement from it.
    role = "lock_watch_" + os.urandom(3).hex()
    with psycopg.connect(db_url, autocommit=True) as admin:
        admin.execute(f'create role "{role}" login')
        admin.execute("create table public.locked (n int)")
        admin.execute(f'grant all on public.locked to "{role}"')
    as_role = make_conninfo(db_url, user=role)
    try:
        with (
            psycopg.connect(db_url, application_name="a notebook") as holder,
            psycopg.connect(as_role, application_name=DBT_APPLICATION_NAME) as waiting,
            psycopg.connect(as_role, autocommit=True) as watcher,
        ):
            holder.execute("select count(*) from public.locked")
            lock = threading.Thread(
                target=waiting.execute, args=("lock table public.locked in access exclusive mode",)
            )
            lock.start()
            deadline = time.monotonic() + 60
            while not (blockers := read_blockers(watcher, DBT_APPLICATION_NAME)):
                assert time.monotonic() < deadline, "the lock never waited"
                time.sleep(0.05)
            (blocker,) = blockers
            assert blocker.pid == holder.info.backend_pid and blocker.seconds is None
            said = describe(blocker, "the build")
            assert f"session {blocker.pid}, which holds a lock on locked (" in said
            assert (
                f"{holder.info.user}, a notebook, in a transaction: <insufficient privilege>)"
                in said
            )
            holder.rollback()
            lock.join(timeout=60)
            waiting.rollback()
    finally:
        with psycopg.connect(db_url, autocommit=True) as admin:
            admin.execute("drop table public.locked")
            admin.execute(f'drop role "{role}"')


@pytest.mark.parametrize(
    ("blocker", "expected"),
    [
        (
            Blocker(41, "ana", "Metabase", "active", 3725.9, "select\n  *\tfrom   x", "a.b, a.c"),
            "the build waits for session 41, which holds a lock on a.b, a.c (ana, Metabase, "
            "active for 1 h 2 min: select * from x). It goes on when that session's "
            "transaction ends; `select pg_terminate_backend(41)` ends it now",
        ),
        (
            Blocker(7, "", "", "", 61, "", None),
            "the build waits for session 7, which holds a lock it needs (in a transaction for "
            "1 min 1 s). It goes on when that session's transaction ends; "
            "`select pg_terminate_backend(7)` ends it now",
        ),
    ],
)
def test_the_message_names_the_session_and_how_to_end_the_wait(blocker, expected):
    assert describe(blocker, "the build") == expected


def test_a_long_statement_is_cut_to_one_line():
    said = describe(Blocker(1, "u", "a", "active", 0, "select " + "x, " * 100, None), "it")
    statement = said.split(": ", 1)[1].split(")")[0]
    assert len(statement) == 80 and statement.endswith("…") and "\n" not in said

"""Reader logins for BI tools: they read the marts and write nothing, anywhere.

`paperhouse db create-reader` makes them and changes no role it did not make.
"""

from __future__ import annotations

import os

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from orchestration.pipeline import build
from orchestration.settings import Settings
from orchestration.warehouse import prepare
from orchestration.warehouse.embedded import EmbeddedServer
from orchestration.warehouse.readers import create_reader

from conftest import SEED_DISTINCT_TITLES, embedded_home, run_cli


def test_a_reader_reads_the_marts_and_nothing_else(sample_env, sample_db):
    name = "bi_reader_" + os.urandom(3).hex()
    env = {**sample_env, "PAPERHOUSE_READER_PASSWORD": "s3cret-Passw0rd"}
    done = run_cli("db", "create-reader", name, env=env)
    assert done.returncode == 0, done.stderr
    assert "s3cret" not in done.stdout + done.stderr  # never echoed
    url = done.stdout.strip().splitlines()[-1]
    assert url.startswith(f"postgresql://{name}@")
    params = psycopg.conninfo.conninfo_to_dict(sample_db)
    params.update(user=name, password="s3cret-Passw0rd")
    reader = psycopg.conninfo.make_conninfo("", **params)
    try:
        with psycopg.connect(reader, autocommit=True) as conn:
            assert conn.execute("select count(*) from analytics.dim_papers").fetchone() == (
                SEED_DISTINCT_TITLES,
            )
            assert (
                conn.execute("select count(*) from analytics.fct_keyword_monthly").fetchone()[0] > 0
            )
            for forbidden in (
                "select count(*) from raw.paper_listings",
                "select count(*) from staging.stg_raw__paper_listings",
                "insert into analytics.dim_keywords (keyword, paper_count) values ('x', 1)",
                "delete from analytics.dim_papers",
                "create table analytics.mine (id int)",
                "create table public.mine (id int)",
                "create temporary table mine (id int)",
                "create schema mine",
                *READER_MAY_NOT,
            ):
                with pytest.raises(psycopg.errors.InsufficientPrivilege, match="permission denied"):
                    with conn.transaction():
                        conn.execute("set local transaction_read_only = off")  # lift the default
                        conn.execute(forbidden)
                    pytest.fail(f"a reader could run: {forbidden}")
            assert_no_function_without_arguments_writes(conn)
            # the owner's defaults for every session of the login
            assert conn.execute("show default_transaction_read_only").fetchone() == ("on",)
            assert conn.execute("show statement_timeout").fetchone() == ("1min",)
        # dbt's grants keep the access through a full rebuild
        assert build(sample_db, full_refresh=True, quiet=True).succeeded
        with psycopg.connect(reader, autocommit=True) as conn:
            assert conn.execute("select count(*) from analytics.dim_papers").fetchone() == (
                SEED_DISTINCT_TITLES,
            )
    finally:
        with psycopg.connect(sample_db, autocommit=True) as admin:
            admin.execute(f'drop owned by "{name}"')
            admin.execute(f'drop role "{name}"')


# Writes through built-in functions that every login may call by default.
READER_MAY_NOT = (
    "select lo_creat(-1)",
    "select lo_create(0)",
    "select lo_from_bytea(0, 'fifty megabytes, say')",
    "select lo_put(1, 0, 'x')",
    "select lo_unlink(1)",
    "select pg_notify('channel', 'x')",
    "select pg_logical_emit_message(true, 'prefix', 'x')",
    "select txid_current()",
    "select pg_current_xact_id()",
    "select pg_advisory_lock(1)",
    "select pg_try_advisory_lock(1)",
    "select pg_advisory_xact_lock(1)",
)


def assert_no_function_without_arguments_writes(conn: psycopg.Connection) -> None:
    """Call every built-in function without arguments the login may run: none may take a transaction id.

    A new server version's new function that writes is found here, by what it does rather than by name.
    """
    functions = conn.execute(
        "select p.oid::regprocedure::text from pg_proc as p "
        "where p.pronamespace = 'pg_catalog'::regnamespace and p.pronargs = 0 and p.prokind = 'f' "
        "  and p.prorettype not in ('trigger'::regtype, 'event_trigger'::regtype, 'internal'::regtype) "
        "  and has_function_privilege(p.oid, 'execute')"
    ).fetchall()
    assert len(functions) > 20
    for (function,) in functions:
        with conn.transaction(force_rollback=True):
            conn.execute("set local transaction_read_only = off")
            try:
                with conn.transaction():
                    conn.execute(f"select {function}")
            except psycopg.Error:
                continue  # refused: nothing written
            wrote = conn.execute("select pg_current_xact_id_if_assigned() is not null").fetchone()[
                0
            ]
            assert not wrote, f"a reader's call to {function} took a transaction id"


def test_create_reader_refuses_roles_it_did_not_make_and_says_updated_for_its_own(
    sample_env, sample_db
):
    name = "bi_reader_" + os.urandom(3).hex()
    someone = "someones_login_" + os.urandom(3).hex()
    env = {**sample_env, "PAPERHOUSE_READER_PASSWORD": "first-Passw0rd"}
    with psycopg.connect(sample_db, autocommit=True) as admin:
        admin.execute(f'create role "{someone}" login')
        owner = admin.execute("select current_user").fetchone()[0]
    try:
        first = run_cli("db", "create-reader", name, env=env)
        assert first.returncode == 0 and f"created reader {name}" in first.stdout, first.stderr
        again = run_cli(
            "db", "create-reader", name, env={**env, "PAPERHOUSE_READER_PASSWORD": "other-Passw0rd"}
        )
        assert again.returncode == 0 and f"updated the password of reader {name}" in again.stdout
        for role in (owner, someone):
            refused = run_cli("db", "create-reader", role, env=env)
            assert refused.returncode == 1 and "Traceback" not in refused.stderr
            assert "choose another name" in refused.stderr
        with psycopg.connect(sample_db, autocommit=True) as admin:
            untouched = admin.execute(
                "select count(*) from pg_auth_members where member = %s::regrole", [someone]
            ).fetchone()[0]
            assert untouched == 0 and admin.execute(
                "select rolconnlimit from pg_roles where rolname = %s", [someone]
            ).fetchone() == (-1,)
        # No terminal to ask on and no password in the environment: one clear line.
        no_password = {k: v for k, v in env.items() if k != "PAPERHOUSE_READER_PASSWORD"}
        done = run_cli("db", "create-reader", name + "_x", env=no_password)
        assert done.returncode == 1
        assert done.stderr.strip().count("\n") == 0 and "PAPERHOUSE_READER_PASSWORD" in done.stderr
    finally:
        with psycopg.connect(sample_db, autocommit=True) as admin:
            for role in (name, someone):
                admin.execute(f'drop owned by "{role}"')
                admin.execute(f'drop role "{role}"')


@pytest.mark.parametrize(
    ("name", "says"),
    [
        ("public", "PostgreSQL keeps for itself"),
        ("none", "PostgreSQL keeps for itself"),
        ("pg_reader", "PostgreSQL keeps for itself"),
        ("9lives", "starting with a letter"),
        ("Reader", "lower-case"),
        ("a" * 64, "up to 63"),
    ],
)
def test_a_name_no_login_can_have_is_one_clear_line(sample_env, name, says):
    env = {**sample_env, "PAPERHOUSE_READER_PASSWORD": "first-Passw0rd"}
    done = run_cli("db", "create-reader", name, env=env)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.startswith("error: ") and says in " ".join(done.stderr.split())


def test_a_reader_cannot_connect_to_the_embedded_clusters_other_databases():
    with embedded_home() as home:
        server = EmbeddedServer(home)
        try:
            url = prepare(Settings(database_url=None, home=home, inbox=home, settle_seconds=0))
            reader_url = create_reader(url, "bi_elsewhere", "s3cret").url
            assert conninfo_to_dict(reader_url)["dbname"] == "paperhouse"
            with psycopg.connect(reader_url, autocommit=True) as conn:
                assert conn.execute("select current_user").fetchone() == ("bi_elsewhere",)
            for database in ("postgres", "template1"):
                params = {**conninfo_to_dict(reader_url), "dbname": database}
                with pytest.raises(
                    psycopg.OperationalError, match="permission denied for database"
                ):
                    psycopg.connect(make_conninfo("", **params)).close()
        finally:
            server.stop()

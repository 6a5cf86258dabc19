"""The schema's migrations: ordered, applied once, guarded against edits."""

from __future__ import annotations

import shutil
import threading
import time
import uuid

import psycopg
import pytest

from orchestration.settings import MIGRATIONS_DIR
from orchestration.warehouse.embedded import EmbeddedServer
from orchestration.warehouse.migrations import MigrationError, apply_migrations, discover

from conftest import embedded_home, url_for


@pytest.fixture
def empty_db(server_url):
    name = f"paperhouse_empty_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(f'create database "{name}"')
    with psycopg.connect(url_for(server_url, name), autocommit=True) as conn:
        yield conn
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(f'drop database "{name}" with (force)')


def test_migrations_apply_once_and_are_recorded(empty_db):
    applied = apply_migrations(empty_db)
    assert [m.version for m in applied] == [m.version for m in discover()]
    assert apply_migrations(empty_db) == []
    ledger = empty_db.execute(
        "select version, name from meta.schema_migrations order by version"
    ).fetchall()
    assert ledger == [(m.version, m.name) for m in discover()]
    tables = empty_db.execute(
        "select table_name from information_schema.tables where table_schema = 'raw' order by 1"
    ).fetchall()
    assert tables == [("ingested_files",), ("paper_listings",)]


def test_an_edited_applied_migration_is_refused(empty_db, tmp_path):
    folder = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS_DIR, folder)
    apply_migrations(empty_db, folder)
    first = sorted(folder.glob("*.sql"))[0]
    first.write_text(first.read_text() + "\n-- an afterthought\n")
    with pytest.raises(MigrationError, match="changed after it was applied"):
        apply_migrations(empty_db, folder)


def test_a_failing_migration_leaves_nothing_half_applied(empty_db, tmp_path):
    folder = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS_DIR, folder)
    (folder / "900_broken.sql").write_text("create table raw.half (id int);\nselect 1/0;\n")
    with pytest.raises(MigrationError, match=r"900_broken\.sql failed"):
        apply_migrations(empty_db, folder)
    assert empty_db.execute("select to_regclass('raw.half')").fetchone() == (None,)
    assert empty_db.execute("select max(version) from meta.schema_migrations").fetchone()[0] < 900


def test_a_database_that_is_not_utf8_is_refused(server_url):
    name = f"paperhouse_ascii_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(
            f"create database \"{name}\" template template0 encoding 'SQL_ASCII' locale_provider libc locale 'C'"
        )
    try:
        with psycopg.connect(url_for(server_url, name), autocommit=True) as conn:
            with pytest.raises(MigrationError, match="SQL_ASCII encoding; paperhouse needs UTF8"):
                apply_migrations(conn)
            assert conn.execute("select to_regclass('raw.paper_listings')").fetchone() == (None,)
    finally:
        with psycopg.connect(server_url, autocommit=True) as admin:
            admin.execute(f'drop database "{name}" with (force)')


def test_a_role_created_by_another_databases_migration_at_the_same_moment_is_no_failure():
    # Roles belong to the server and the migrations' lock to one database: on a new
    # server, two warehouses' first migrations both create paperhouse_reader. Here the
    # other's creation is held open until this database's migration waits on it.
    with embedded_home() as home:
        server = EmbeddedServer(home)
        url = server.start()
        try:
            with psycopg.connect(url, autocommit=True) as admin:
                admin.execute("create database second_warehouse")
            other = psycopg.connect(url)
            other.execute("create role paperhouse_reader nologin")  # not committed yet
            failures: list[BaseException] = []

            def migrate() -> None:
                try:
                    with psycopg.connect(url_for(url, "second_warehouse"), autocommit=True) as conn:
                        apply_migrations(conn)
                except BaseException as exc:
                    failures.append(exc)

            migration = threading.Thread(target=migrate)
            migration.start()
            with psycopg.connect(url, autocommit=True) as watcher:
                deadline = time.monotonic() + 60
                while not watcher.execute(
                    "select count(*) from pg_stat_activity"
                    " where datname = 'second_warehouse' and wait_event_type = 'Lock'"
                ).fetchone()[0]:
                    assert migration.is_alive() and time.monotonic() < deadline, failures
                    time.sleep(0.05)
            other.commit()
            other.close()
            migration.join(60)
            assert not failures, failures
            with psycopg.connect(url_for(url, "second_warehouse")) as conn:
                ledger = conn.execute("select version from meta.schema_migrations order by 1")
                assert [row[0] for row in ledger] == [m.version for m in discover()]
        finally:
            server.stop()

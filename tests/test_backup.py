"""`paperhouse db dump` and `db restore`: one archive of the warehouse, restored whole or not at all."""

from __future__ import annotations

import io
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
from hypothesis import given
from hypothesis import strategies as st

from orchestration.features import EXTRACTION_LOCK_KEY, EXTRACTION_WAIT
from orchestration.models.plan import BUILD_LOCK_KEY, BUILD_WAIT
from orchestration.settings import MIGRATIONS_DIR
from orchestration.warehouse import take_session_lock
from orchestration.warehouse.backup import (
    RESTORE_APPLICATION_NAME,
    SCHEMAS,
    BackupError,
    _copy_script,
)
from orchestration.warehouse.backup_folder import BACKUP_NAME, back_up, backup_name, backups_beyond
from orchestration.warehouse.embedded import POSTGRES_BIN_PATH
from orchestration.warehouse.migrations import apply_migrations

from conftest import (
    SEED_DISTINCT_TITLES,
    SEED_LISTINGS,
    LinesRead,
    fresh_database,
    run_cli,
    url_for,
)


def fingerprint(url: str) -> dict[str, str]:
    """Every table of paperhouse's schemas, each as the md5 of its rows in a fixed order."""
    with psycopg.connect(url, autocommit=True) as conn:
        tables = conn.execute(
            "select format('%%I.%%I', schemaname, tablename) from pg_tables "
            "where schemaname = any(%s) order by 1",
            [list(SCHEMAS)],
        ).fetchall()
        return {
            table: conn.execute(
                f"select count(*) || ':' || coalesce(md5(string_agg(t::text, '|' order by t::text)), '') "
                f"from {table} as t"
            ).fetchone()[0]
            for (table,) in tables
        }


def listings(url: str) -> int:
    with psycopg.connect(url) as conn:
        return conn.execute("select count(*) from raw.paper_listings").fetchone()[0]


@pytest.fixture
def sample_archive(sample_env, tmp_path) -> Path:
    archive = tmp_path / "warehouse.dump"
    done = run_cli("db", "dump", str(archive), env=sample_env)
    assert done.returncode == 0, done.stderr
    assert f"{SEED_LISTINGS:,} listings, papers {SEED_DISTINCT_TITLES:,}" in done.stdout
    return archive


def test_an_archive_restores_the_same_warehouse_and_ingest_still_takes_each_file_once(
    sample_archive, sample_db, cli_env, db_url, inbox
):
    done = run_cli("db", "restore", str(sample_archive), env=cli_env)
    assert done.returncode == 0, done.stderr
    assert f"{SEED_LISTINGS:,} listings, papers {SEED_DISTINCT_TITLES:,}" in done.stdout
    assert fingerprint(db_url) == fingerprint(sample_db)
    # every schema a built warehouse has is one the archive holds (a new one must join SCHEMAS)
    with psycopg.connect(sample_db) as conn:
        schemas = {
            name
            for (name,) in conn.execute(
                "select nspname from pg_namespace where nspname <> all(%s) "
                "and nspname not like 'pg\\_%%'",
                [["public", "information_schema"]],
            )
        }
    assert schemas == set(SCHEMAS)
    # BI tools' logins read the restored marts, and still nothing else
    with psycopg.connect(db_url) as conn:
        assert conn.execute(
            "select has_table_privilege('paperhouse_reader', 'analytics.dim_papers', 'select'), "
            "has_schema_privilege('paperhouse_reader', 'raw', 'usage')"
        ).fetchone() == (True, False)
    # the restored ledger knows the files: none is loaded again, and the build goes on from it
    done = run_cli("run", "--inbox", str(inbox), env=cli_env)
    assert done.returncode == 0, done.stderr
    assert re.search(r"unchanged +│ +5 │", done.stdout) and re.search(
        r"listings loaded +│ +0 │", done.stdout
    )
    assert listings(db_url) == SEED_LISTINGS
    done = run_cli("search", "state space models", "--format", "json", env=cli_env)
    assert done.returncode == 0 and '"paper_id"' in done.stdout


def test_a_dump_never_overwrites_by_accident_and_leaves_no_partial_file(
    sample_env, sample_archive, tmp_path
):
    before = sample_archive.read_bytes()
    done = run_cli("db", "dump", str(sample_archive), env=sample_env)
    assert done.returncode == 1 and "exists: choose another name, or add --replace" in done.stderr
    assert sample_archive.read_bytes() == before
    done = run_cli("db", "dump", str(tmp_path), env=sample_env)
    assert done.returncode == 1 and "is a folder" in done.stderr
    done = run_cli("db", "dump", str(tmp_path / "missing" / "w.dump"), env=sample_env)
    assert done.returncode == 1 and "is not a folder" in done.stderr
    pipe = tmp_path / "pipe"
    os.mkfifo(pipe)
    done = run_cli("db", "dump", str(pipe), "--replace", env=sample_env)
    assert done.returncode == 1 and "is not a regular file" in done.stderr
    assert pipe.is_fifo()
    # what a dump killed outright left (its process gone) goes with the next dump of that name
    abandoned = tmp_path / f".{sample_archive.name}.{2**22 + 1}.partial"
    abandoned.write_bytes(b"half")
    done = run_cli("db", "dump", str(sample_archive), "--replace", env=sample_env)
    assert done.returncode == 0, done.stderr
    assert not abandoned.exists()
    assert sorted(path.name for path in tmp_path.iterdir() if path.name.endswith(".partial")) == []

    # Two dumps of one new name at once, both past their look at the name while a build holds
    # the turn: the first to end writes the file, the other keeps nothing and says so.
    same = tmp_path / "same.dump"
    paperhouse = Path(sys.executable).parent / "paperhouse"
    with psycopg.connect(sample_env["PAPERHOUSE_DATABASE_URL"], autocommit=True) as build:
        take_session_lock(build, BUILD_LOCK_KEY)
        dumps = [
            subprocess.Popen(
                [str(paperhouse), "db", "dump", str(same)],
                env=sample_env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(2)
        ]
        said = [LinesRead(each.stderr) for each in dumps]
        for each in said:
            each.wait_for(BUILD_WAIT)
    ended = [each.wait(timeout=120) for each in dumps]
    assert sorted(ended) == [0, 1]
    refused = said[ended.index(1)].text()
    assert "was written by another dump meanwhile: this one is not kept" in refused
    kept = dumps[ended.index(0)]
    assert f"wrote {same}" in kept.stdout.read()
    assert run_cli("db", "restore", str(same), env=sample_env).stderr.count("holds 5 file(s)") == 1
    assert [path.name for path in tmp_path.iterdir() if path.name.endswith(".partial")] == []


def test_a_restore_refuses_what_it_cannot_restore_whole(
    sample_archive, server_url, template_db, cli_env, db_url, inbox, tmp_path
):
    text = tmp_path / "notes.txt"
    text.write_text("not an archive\n")
    for path, says in [
        (tmp_path / "missing.dump", "is not a file"),
        (tmp_path, "is not a file"),
        (text, "is not an archive"),
    ]:
        done = run_cli("db", "restore", str(path), env=cli_env)
        assert done.returncode == 1 and says in done.stderr, done.stderr
        assert "Traceback" not in done.stderr

    # an archive of a database that is no warehouse
    other = tmp_path / "other.dump"
    with fresh_database(server_url, template_db) as url:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("drop schema meta cascade")
        pg_dump(url, other)
    done = run_cli("db", "restore", str(other), env=cli_env)
    assert done.returncode == 1 and "not of a paperhouse warehouse" in done.stderr

    # archives of a newer paperhouse, and of a migration changed since
    for change, says in [
        (
            "insert into meta.schema_migrations (version, name, checksum) values (999, 'later', 'x')",
            "made by a newer paperhouse (its migration 999_later)",
        ),
        (
            "update meta.schema_migrations set checksum = 'edited' where version = 1",
            "holds migration 001_raw_schema.sql in another form",
        ),
    ]:
        archive = tmp_path / "changed.dump"
        with fresh_database(server_url, template_db) as url:
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute(change)
            pg_dump(url, archive, replace=True)
        done = run_cli("db", "restore", str(archive), env=cli_env)
        assert done.returncode == 1 and says in done.stderr, done.stderr

    # a warehouse that holds files is replaced only when asked
    assert run_cli("ingest", str(inbox), env=cli_env).returncode == 0
    before = fingerprint(db_url)
    done = run_cli("db", "restore", str(sample_archive), env=cli_env)
    assert done.returncode == 1
    assert f"holds 5 file(s) and {SEED_LISTINGS:,} listing(s)" in done.stderr
    assert fingerprint(db_url) == before
    done = run_cli("db", "restore", str(sample_archive), "--replace", env=cli_env)
    assert done.returncode == 0, done.stderr
    assert f"in place of a warehouse of 5 files, {SEED_LISTINGS:,} listings, papers not built" in (
        done.stdout
    )


def test_a_restore_that_fails_or_is_killed_midway_leaves_the_warehouse_as_it_was(
    sample_archive, server_url, template_db, cli_env, db_url, inbox, tmp_path
):
    assert run_cli("ingest", str(inbox), env=cli_env).returncode == 0
    before = fingerprint(db_url)

    # A statement the server refuses, early in the load, with megabytes of the archive still to
    # come: a default that calls a function of `public`, which the archive does not hold.
    refused = tmp_path / "refused.dump"
    function = f"gone_{uuid.uuid4().hex[:8]}"
    with fresh_database(server_url, template_db) as url:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(
                f"create function public.{function}() returns int language sql as 'select 1'"
            )
            conn.execute(f"create table meta.a_default (n int default public.{function}())")
            conn.execute(
                "create table meta.filler as select repeat(md5(n::text), 32) as text "
                "from generate_series(1, 20000) as n"
            )
        pg_dump(url, refused)
    done = run_cli("db", "restore", str(refused), "--replace", env=cli_env)
    assert done.returncode == 1, done.stdout
    assert (
        "the restore failed and the warehouse is as it was: psql: ERROR:  function "
        f"public.{function}() does not exist" in done.stderr
    )
    assert fingerprint(db_url) == before

    # an archive cut short: pg_restore fails after psql has dropped and loaded part of it
    cut = tmp_path / "cut.dump"
    cut.write_bytes(sample_archive.read_bytes()[: sample_archive.stat().st_size * 19 // 20])
    done = run_cli("db", "restore", str(cut), "--replace", env=cli_env)
    assert done.returncode == 1, done.stdout
    assert "the restore failed and the warehouse is as it was: pg_restore" in done.stderr
    assert fingerprint(db_url) == before

    # Killed midway: another session's uncommitted schema `staging` holds the restore's psql
    # at its own `create schema staging`, after it has dropped every schema and made the first;
    # the restore names that session.
    with psycopg.connect(db_url) as blocker:
        blocker.execute("create schema staging")
        paperhouse = Path(sys.executable).parent / "paperhouse"
        restore = subprocess.Popen(
            [str(paperhouse), "db", "restore", str(sample_archive), "--replace"],
            env=cli_env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            waiting = wait_for_a_session_waiting_on_a_lock(db_url, "CREATE SCHEMA staging")
            assert waiting, "the restore never reached `create schema staging`"
            said = LinesRead(restore.stderr).wait_for("the restore waits for session")
            assert f"session {blocker.info.backend_pid}, which holds a lock it needs" in said
            assert "idle in transaction for " in said and ": create schema staging)" in said
            restore.send_signal(signal.SIGKILL)
            restore.wait(timeout=30)
        finally:
            if restore.poll() is None:
                restore.kill()
        blocker.rollback()
    # psql reads what is left of its input, finds no commit, and its transaction rolls back
    wait_for_sessions_to_end(db_url, RESTORE_APPLICATION_NAME)
    assert fingerprint(db_url) == before


def test_an_archive_of_an_older_paperhouse_is_brought_up_to_date(
    server_url, template_db, cli_env, db_url, tmp_path
):
    older = tmp_path / "migrations"
    older.mkdir()
    *earlier, last = sorted(MIGRATIONS_DIR.glob("*.sql"))
    for path in earlier:
        shutil.copy(path, older / path.name)
    archive = tmp_path / "older.dump"
    name = f"older_{os.getpid()}_{time.monotonic_ns()}"
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(f'create database "{name}"')
    try:
        url = url_for(server_url, name)
        with psycopg.connect(url, autocommit=True) as conn:
            apply_migrations(conn, older)
        pg_dump(url, archive)
    finally:
        with psycopg.connect(server_url, autocommit=True) as admin:
            admin.execute(f'drop database if exists "{name}" with (force)')
    done = run_cli("db", "restore", str(archive), env=cli_env)
    assert done.returncode == 0, done.stderr
    assert "brought up to date: 1 migration(s)" in done.stdout
    with psycopg.connect(db_url) as conn:
        versions = [v for (v,) in conn.execute("select version from meta.schema_migrations")]
    assert max(versions) == int(last.name[:3])


def pg_dump(url: str, archive: Path, replace: bool = False) -> None:
    """An archive as `paperhouse db dump` writes one, of any database."""
    if replace:
        archive.unlink(missing_ok=True)
    schemas = [f"--schema={schema}" for schema in SCHEMAS]
    subprocess.run(
        [str(POSTGRES_BIN_PATH / "pg_dump"), "--format=custom", *schemas, f"--file={archive}", url],
        check=True,
    )


def wait_for_a_session_waiting_on_a_lock(url: str, query: str, timeout: float = 60) -> bool:
    deadline = time.monotonic() + timeout
    with psycopg.connect(url, autocommit=True) as conn:
        while time.monotonic() < deadline:
            if conn.execute(
                "select 1 from pg_stat_activity where datname = current_database() "
                "and wait_event_type = 'Lock' and query like %s",
                [f"%{query}%"],
            ).fetchone():
                return True
            time.sleep(0.05)
    return False


def wait_for_sessions_to_end(url: str, application: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    with psycopg.connect(url, autocommit=True) as conn:
        while time.monotonic() < deadline:
            if not conn.execute(
                "select 1 from pg_stat_activity where datname = current_database() "
                "and application_name = %s",
                [application],
            ).fetchone():
                return
            time.sleep(0.05)
    raise AssertionError(f"a {application} session is still there")


def test_the_scripts_session_settings_this_server_lacks_are_left_out():
    # pg_restore 18 sets transaction_timeout (PostgreSQL 17) at the head of every script,
    # which PostgreSQL 15 and 16 refuse; the same words further on are data, and stay
    script = io.BytesIO(
        b"-- dump\n\\restrict key\n\n"
        b"SET statement_timeout = 0;\nSET transaction_timeout = 0;\n"
        b"SELECT pg_catalog.set_config('search_path', '', false);\n"
        b"CREATE SCHEMA raw;\nSET transaction_timeout = 0;\n"
    )
    loaded = io.BytesIO()
    _copy_script(script, loaded, {"statement_timeout"})
    assert loaded.getvalue() == (
        b"-- dump\n\\restrict key\n\n"
        b"SET statement_timeout = 0;\n"
        b"SELECT pg_catalog.set_config('search_path', '', false);\n"
        b"CREATE SCHEMA raw;\nSET transaction_timeout = 0;\n"
    )


def test_a_restore_waits_for_a_features_step_and_says_so(sample_archive, cli_env, db_url):
    with psycopg.connect(db_url, autocommit=True) as features_step:
        take_session_lock(features_step, EXTRACTION_LOCK_KEY)
        paperhouse = Path(sys.executable).parent / "paperhouse"
        restore = subprocess.Popen(
            [str(paperhouse), "db", "restore", str(sample_archive)],
            env=cli_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert restore.stderr.readline().startswith(EXTRACTION_WAIT)
        assert restore.poll() is None
    out, _ = restore.communicate(timeout=120)
    assert restore.returncode == 0 and f"{SEED_LISTINGS:,} listings" in out


BACKUP_TIMES = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31), timezones=st.just(UTC)
)


@given(
    backups=st.sets(BACKUP_TIMES.map(backup_name), max_size=12),
    others=st.sets(st.text(max_size=30), max_size=5),
    just_made=BACKUP_TIMES.map(backup_name),
    keep=st.integers(1, 15),
)
def test_a_backup_folder_deletes_only_its_oldest_archives(backups, others, just_made, keep):
    names = backups | others | {just_made}
    removed = backups_beyond(names, keep, just_made)
    kept = names - set(removed)
    ours = {name for name in names if BACKUP_NAME.fullmatch(name)}
    assert just_made in kept and others - ours <= kept  # the new one, and what is not a backup
    assert len(ours & kept) == min(keep, len(ours))
    assert removed == sorted(removed)
    # every backup deleted is older than every other backup kept
    assert all(gone < left for gone in removed for left in ours & kept - {just_made})


def test_a_backup_keeps_the_newest_and_touches_nothing_else(sample_db, tmp_path):
    folder = tmp_path / "backups"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine")
    (folder / "paperhouse-19990101T000000Z.dump").symlink_to(folder / "notes.txt")
    (folder / "paperhouse-19990102T000000Z.dump.old").write_text("not one of its names")
    made = [datetime(2026, 12, day, 3, 15, tzinfo=UTC) for day in (1, 2, 3)]
    for when in made:
        done = back_up(sample_db, folder, 2, now=when)
        assert done.dumped.path == folder / backup_name(when)
        assert done.dumped.counts.listings == SEED_LISTINGS
    assert done.removed == [folder / backup_name(made[0])]
    others = {
        "notes.txt",
        "paperhouse-19990101T000000Z.dump",
        "paperhouse-19990102T000000Z.dump.old",
    }
    assert {path.name for path in folder.iterdir()} == others | {
        backup_name(made[1]),
        backup_name(made[2]),
    }
    # the clock set back: the new archive is kept, whatever its name says
    earlier = datetime(2026, 11, 30, tzinfo=UTC)
    done = back_up(sample_db, folder, 2, now=earlier)
    assert {path.name for path in folder.iterdir()} == others | {
        backup_name(earlier),
        backup_name(made[2]),
    }
    assert (folder / "notes.txt").read_text() == "mine"
    with pytest.raises(BackupError, match="another backup was made in the same second"):
        back_up(sample_db, folder, 2, now=earlier)


def test_db_backup_names_what_it_lacks_and_keeps_what_it_is_told(sample_env, tmp_path):
    done = run_cli("db", "backup", env=sample_env)
    assert done.returncode == 1
    assert (
        "no backup folder: name one (paperhouse db backup FOLDER) or set PAPERHOUSE_BACKUP_DIR"
        in done.stderr
    )
    unmounted = tmp_path / "mnt" / "backups"
    done = run_cli("db", "backup", env={**sample_env, "PAPERHOUSE_BACKUP_DIR": str(unmounted)})
    assert done.returncode == 1 and "does not exist or is not a folder" in done.stderr
    assert not unmounted.exists()
    done = run_cli("db", "backup", env={**sample_env, "PAPERHOUSE_BACKUP_KEEP": "0"})
    assert done.returncode == 1 and "PAPERHOUSE_BACKUP_KEEP='0' is not between 1 and" in done.stderr

    folder = tmp_path / "backups"
    folder.mkdir()
    old = folder / "paperhouse-20000101T000000Z.dump"
    old.write_text("an old backup")
    env = {**sample_env, "PAPERHOUSE_BACKUP_DIR": str(folder)}
    done = run_cli("db", "backup", "--keep", "1", env=env)
    assert done.returncode == 0, done.stderr
    assert f"{SEED_LISTINGS:,} listings" in done.stdout
    assert f"removed 1 older backup(s): {old.name}" in done.stdout
    (archive,) = folder.iterdir()
    assert BACKUP_NAME.fullmatch(archive.name) and archive.name in done.stdout
    # what it wrote restores
    check = run_cli("db", "restore", str(archive), env=env)
    assert (
        check.returncode == 1 and "holds 5 file(s)" in check.stderr
    )  # an archive, refused only for --replace

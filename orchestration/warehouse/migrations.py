"""Ordered SQL migrations in sql/migrations, applied once each and recorded in a ledger.

A migration is a file `NNN_description.sql`; files run in the order of NNN,
each in its own transaction together with its ledger row, so a failed one
leaves nothing half-applied. An applied file must never change: its checksum
is recorded and a mismatch stops paperhouse with a message.

Files in sql/repeatable/ are idempotent and run after the migrations every
time: settings of the database itself, which a copy of the database (from a
template or a dump) does not carry.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import psycopg
import psycopg.errors

from orchestration.settings import MIGRATIONS_DIR, REPEATABLE_DIR

MIGRATION_FILE = re.compile(r"(?P<version>\d{3,})_(?P<name>[a-z0-9_]+)\.sql")
# Any constant works; it only has to be the same in every paperhouse process.
MIGRATION_LOCK_KEY = 0x7061_7065_7268_6F75  # "paperhou"
# The unique index of role names, which two creations of one role at once run into.
ROLE_NAMES = "pg_authid_rolname_index"

LEDGER_DDL = """
create schema if not exists meta;
create table if not exists meta.schema_migrations (
    version     integer primary key,
    name        text not null,
    checksum    text not null,
    applied_at  timestamptz not null default now()
);
comment on table meta.schema_migrations is
    'The ledger of SQL migrations from sql/migrations applied to this database.';
"""


class MigrationError(RuntimeError):
    """The schema cannot be brought up to date; the message says which file and why."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    path: Path

    @property
    def sql(self) -> str:
        return self.path.read_text(encoding="utf-8")

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.path.read_bytes()).hexdigest()


def discover(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    migrations = []
    for path in sorted(directory.glob("*.sql")):
        match = MIGRATION_FILE.fullmatch(path.name)
        if not match:
            raise MigrationError(f"{path.name}: a migration file is named NNN_description.sql")
        migrations.append(Migration(int(match["version"]), match["name"], path))
    versions = [m.version for m in migrations]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"two migrations share a version number in {directory}")
    return sorted(migrations, key=lambda m: m.version)


def apply_migrations(
    conn: psycopg.Connection, directory: Path = MIGRATIONS_DIR, repeatable: Path = REPEATABLE_DIR
) -> list[Migration]:
    """Apply every migration not yet in the ledger; return the ones applied now."""
    pending = discover(directory)
    _require_utf8(conn)
    applied_now = []
    # A session-level advisory lock: several processes starting at once
    # (concurrent ingesters, Dagster and the CLI) apply each migration once.
    conn.execute("select pg_advisory_lock(%s)", [MIGRATION_LOCK_KEY])
    try:
        with conn.transaction():
            conn.execute(LEDGER_DDL)
        done = dict(conn.execute("select version, checksum from meta.schema_migrations").fetchall())
        for migration in pending:
            if migration.version in done:
                if done[migration.version] != migration.checksum:
                    raise MigrationError(
                        f"{migration.path.name} changed after it was applied to this database; "
                        "write a new migration instead of editing an applied one"
                    )
                continue
            try:
                try:
                    _apply(conn, migration)
                except psycopg.errors.UniqueViolation as exc:
                    if exc.diag.constraint_name != ROLE_NAMES:
                        raise
                    # Roles belong to the server, and the lock above to one database:
                    # another database's first migration created the same role at the
                    # same moment. It exists now, which the migration allows for.
                    _apply(conn, migration)
            except psycopg.Error as exc:
                raise MigrationError(f"{migration.path.name} failed: {exc}") from exc
            applied_now.append(migration)
        for path in sorted(repeatable.glob("*.sql")):
            try:
                with conn.transaction():
                    conn.execute(path.read_text(encoding="utf-8"))
            except psycopg.Error as exc:
                raise MigrationError(f"{path.name} failed: {exc}") from exc
    finally:
        conn.execute("select pg_advisory_unlock(%s)", [MIGRATION_LOCK_KEY])
    return applied_now


def _apply(conn: psycopg.Connection, migration: Migration) -> None:
    with conn.transaction():
        conn.execute(migration.sql)
        conn.execute(
            "insert into meta.schema_migrations (version, name, checksum) values (%s, %s, %s)",
            [migration.version, migration.name, migration.checksum],
        )


def _require_utf8(conn: psycopg.Connection) -> None:
    """Refuse a database whose encoding cannot hold every listing.

    Listings carry any Unicode text, and the title key (dbt/macros/title_key.sql)
    tells an ASCII title by its length in bytes, which only UTF8 makes exact.
    """
    encoding = conn.info.parameter_status("server_encoding")
    if encoding != "UTF8":
        raise MigrationError(
            f"the warehouse database uses the {encoding} encoding; paperhouse needs UTF8 "
            "(listings hold any Unicode text): create it with ENCODING 'UTF8'"
        )

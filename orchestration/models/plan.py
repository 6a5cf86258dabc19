"""What the next dbt build of the marts takes, tests and rebuilds: decided in one place, from the
warehouse's state alone, for every launcher (the CLI, a sensor's or a schedule's run, the UI).

A build takes the files up to the last one whose features are extracted
(features.extracted_through) and tests the rows above the marts' watermark.
It is a full refresh when asked for, or when the marts hold what an
incremental build cannot follow: files re-parsed since they were built,
keyphrases from another extractor than the one the features now hold, or
tables whose columns are not their model's (an older paperhouse).

Builds on one warehouse take turns (an advisory lock held on a connection
of its own), and each is logged in meta.builds: when, with what plan, and
whether it succeeded. Every other dbt command on the warehouse takes the
same turn: they share its dbt target folder (manifest, run results, parse
state), which a build reads back when it ends.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import psycopg

from orchestration.features import extracted_through
from orchestration.keywords.vocabulary import load_vocabulary
from orchestration.models.manifest import MARTS_SCHEMA, marts
from orchestration.warehouse import connect, take_session_lock
from orchestration.warehouse.lock_waits import DBT_APPLICATION_NAME, reporting_lock_waits

BUILD_LOCK_KEY = 0x7061_7065_7262_6C64  # "paperbld"
# What a command waiting for the build's turn tells its user (CLI) or its log (Dagster).
BUILD_WAIT = (
    "a build, an export, a dump, a restore or another dbt command is running on this "
    "warehouse: waiting for it"
)


@dataclass(frozen=True)
class BuildPlan:
    through_ingest_seq: int  # the build takes the files up to this ingest_seq
    test_since_ingest_seq: int  # its data tests read the rows above this (0: all of them)
    full_refresh_because: tuple[str, ...]  # empty for an incremental build
    extractor_version: str
    selection: str | None = None  # dbt's --select

    @property
    def full_refresh(self) -> bool:
        return bool(self.full_refresh_because)

    @property
    def dbt_args(self) -> list[str]:
        """The dbt command (pure: tested on its own)."""
        return [
            "build",
            *(["--full-refresh"] if self.full_refresh else []),
            *(["--select", self.selection] if self.selection else []),
        ]

    @property
    def dbt_env(self) -> dict[str, str]:
        """The bounds as the environment dbt/macros/test_scope.sql reads.

        Environment variables, not --vars: new --vars make dbt re-parse the whole project.
        """
        return {
            "PAPERHOUSE_BUILD_THROUGH_INGEST_SEQ": str(self.through_ingest_seq),
            "PAPERHOUSE_TEST_SINCE_INGEST_SEQ": str(self.test_since_ingest_seq),
        }


@dataclass
class Build:
    """One build in progress: its plan, its row in meta.builds, and whether dbt succeeded."""

    plan: BuildPlan
    build_id: int
    succeeded: bool = field(default=False)


@contextmanager
def build_turn(url: str, on_wait: Callable[[], None] | None = None) -> Iterator[psycopg.Connection]:
    """Wait for any build or other dbt command on this warehouse, then hold the turn until the
    block ends, on the connection given. `on_wait()` is called first if there is a wait.

    The lock is a session lock: the process dying releases it.
    """
    with connect(url) as conn:
        take_session_lock(conn, BUILD_LOCK_KEY, on_wait)
        yield conn


@contextmanager
def planned_build(
    url: str,
    *,
    full_refresh: bool = False,
    selection: str | None = None,
    on_wait: Callable[[], None] | None = None,
    on_blocked: Callable[[str], None] | None = None,
) -> Iterator[Build]:
    """Wait for any other build of this warehouse (calling `on_wait()` first if there is a wait),
    plan this one and log it; the caller runs dbt with `build.plan` and sets `build.succeeded`.
    Other builds wait until the block ends. While it runs, `on_blocked(message)` names each
    session that keeps dbt waiting for a lock (lock_waits): a reader's open transaction on a
    mart that a full build replaces.
    """
    with build_turn(url, on_wait) as conn:
        # Holding the lock, any build still marked as running died with its process.
        conn.execute(
            "update meta.builds set finished_at = now(), succeeded = false where finished_at is null"
        )
        plan = plan_build(conn, full_refresh=full_refresh, selection=selection)
        build_id = conn.execute(
            "insert into meta.builds (full_refresh, selection, through_ingest_seq, extractor_version) "
            "values (%s, %s, %s, %s) returning build_id",
            [plan.full_refresh, selection, plan.through_ingest_seq, plan.extractor_version],
        ).fetchone()[0]  # type: ignore[index]
        build = Build(plan, build_id)
        try:
            with reporting_lock_waits(url, DBT_APPLICATION_NAME, "the build", on_blocked):
                yield build
        finally:
            conn.execute(
                "update meta.builds set finished_at = now(), succeeded = %s where build_id = %s",
                [build.succeeded, build_id],
            )


def plan_build(
    conn: psycopg.Connection, *, full_refresh: bool = False, selection: str | None = None
) -> BuildPlan:
    """The plan of the next build of the warehouse `conn` is connected to."""
    watermark = built_watermark(conn)
    version = load_vocabulary().version
    because = [] if not full_refresh else ["asked for"]
    if watermark:  # marts built before: what can an incremental build not follow?
        if reparsed := files_reparsed_since_build(conn, watermark):
            because.append(f"{reparsed:,} file(s) re-parsed since the last build")
        built_with = last_extractor_version(conn)
        if built_with != version:
            because.append(
                "the keyword extractor changed"
                if built_with
                else "no build of these marts is logged (built by an older paperhouse)"
            )
        if changed := marts_with_changed_columns(conn):
            because.append(f"marts whose columns changed: {', '.join(changed)}")
    return BuildPlan(
        through_ingest_seq=extracted_through(conn),
        test_since_ingest_seq=0 if because else watermark,
        full_refresh_because=tuple(because),
        extractor_version=version,
        selection=selection,
    )


def built_watermark(conn: psycopg.Connection) -> int:
    """The highest ingest_seq the marts hold (0 before the first build)."""
    if conn.execute("select to_regclass('analytics.fct_paper_listings')").fetchone()[0] is None:  # type: ignore[index]
        return 0
    return conn.execute(
        "select coalesce(max(ingest_seq), 0) from analytics.fct_paper_listings"
    ).fetchone()[0]  # type: ignore[index]


def last_extractor_version(conn: psycopg.Connection) -> str | None:
    """The extractor whose keyphrases the marts hold: that of the last successful whole build."""
    row = conn.execute(
        "select extractor_version from meta.builds where succeeded and selection is null "
        "order by build_id desc limit 1"
    ).fetchone()
    return row[0] if row else None


def files_reparsed_since_build(conn: psycopg.Connection, watermark: int) -> int:
    """Files the marts (built up to `watermark`) hold under an older ingest_seq: re-parsed since.

    Their listings may have moved between papers, which an incremental
    build, adding only what is new, cannot follow (ingest/reparse.py).
    """
    row = conn.execute(
        "select count(*) from raw.ingested_files as files where files.ingest_seq > %s and exists ("
        "    select from analytics.fct_paper_listings as facts where facts.file_id = files.file_id)",
        [watermark],
    ).fetchone()
    return row[0] if row else 0


def marts_with_changed_columns(conn: psycopg.Connection) -> list[str]:
    """The marts whose table's columns or their types are not those of their contract.

    A new paperhouse version can add or drop a mart's column or change its
    type; dbt refuses an incremental build of such a table (on_schema_change:
    fail), and the whole table must be rebuilt anyway to fill a new column.
    Types are compared as PostgreSQL names them (`timestamptz` is `timestamp
    with time zone`), without modifiers: numeric(14, 4) and numeric(10, 2)
    are the same type here.
    """
    expected = {(MARTS_SCHEMA, mart.name): mart.columns for mart in marts()}
    # PostgreSQL's own names for the contracts' types
    spellings = sorted({str(t) for columns in expected.values() for t in columns.values() if t})
    canonical = dict(
        conn.execute(
            "select spelling, format_type(spelling::regtype, null) from unnest(%s::text[]) as spelling",
            [spellings],
        ).fetchall()
    )
    rows = conn.execute(
        "select namespaces.nspname, tables.relname, columns.attname, format_type(columns.atttypid, null)"
        " from pg_attribute as columns"
        " join pg_class as tables on tables.oid = columns.attrelid"
        " join pg_namespace as namespaces on namespaces.oid = tables.relnamespace"
        " where columns.attnum > 0 and not columns.attisdropped"
        "  and (namespaces.nspname, tables.relname) in (select unnest(%s::text[]), unnest(%s::text[]))",
        [[schema for schema, _ in expected], [name for _, name in expected]],
    ).fetchall()
    actual: dict[tuple[str, str], dict[str, str]] = {}
    for schema, table, column, type_name in rows:
        actual.setdefault((schema, table), {})[column] = type_name
    # a table not built yet is no change: the build creates it
    return sorted(
        name
        for (schema, name), columns in expected.items()
        if (schema, name) in actual
        and actual[(schema, name)] != {column: canonical.get(t, t) for column, t in columns.items()}
    )

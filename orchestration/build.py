"""Build the warehouse: the features step (orchestration/features.py), then the dbt models in dbt/.

dbt runs as its own process (as dagster-dbt runs it), with the connection
passed through the environment variables that dbt/profiles.yml reads.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from psycopg.conninfo import conninfo_to_dict

from orchestration.features import ExtractionSummary, extract_pending, extracted_through
from orchestration.settings import DBT_PROJECT_DIR
from orchestration.warehouse import connect
from orchestration.workers import die_with_parent

RUN_RESULTS = DBT_PROJECT_DIR / "target" / "run_results.json"
MANIFEST = DBT_PROJECT_DIR / "target" / "manifest.json"


# dbt's sessions check every few seconds that dbt is still there: a build
# killed outright (its dbt with it, workers.die_with_parent) leaves no query
# running on the server, holding the tables the next build wants.
DBT_SESSION_OPTIONS = "-c client_connection_check_interval=2s"


def dbt_profile_env(url: str) -> dict[str, str]:
    """The variables dbt/profiles.yml reads, taken from the libpq URL `url`."""
    info = conninfo_to_dict(url)
    user = str(info.get("user") or os.environ.get("PGUSER") or "postgres")
    return {
        "PGOPTIONS": " ".join(filter(None, [os.environ.get("PGOPTIONS"), DBT_SESSION_OPTIONS])),
        "PAPERHOUSE_DBT_HOST": str(info.get("host") or "localhost"),
        "PAPERHOUSE_DBT_PORT": str(info.get("port") or 5432),
        "PAPERHOUSE_DBT_USER": user,
        "PAPERHOUSE_DBT_PASSWORD": str(info.get("password") or ""),
        "PAPERHOUSE_DBT_DBNAME": str(info.get("dbname") or user),
        "PAPERHOUSE_DBT_SSLMODE": str(info.get("sslmode") or "prefer"),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }


# dbt/logs/dbt.log gains a few hundred kB of debug lines a build; dbt rolls
# it over at this size and keeps five old ones, so the folder stays under
# about 12 MB however long the warehouse runs.
DBT_LOG_FILE_BYTES = 2 * 1024 * 1024


def dbt_env(url: str, environ: Mapping[str, str]) -> dict[str, str]:
    """`environ` plus the profile's variables and where dbt finds its project."""
    env = {"DBT_LOG_FILE_MAX_BYTES": str(DBT_LOG_FILE_BYTES), **environ, **dbt_profile_env(url)}
    env.update(DBT_PROFILES_DIR=str(DBT_PROJECT_DIR), DBT_PROJECT_DIR=str(DBT_PROJECT_DIR))
    # dagster-dbt and our own calls find `dbt` beside this Python.
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), environ.get("PATH", "")])
    return env


def dbt_executable() -> str:
    return str(Path(sys.executable).parent / "dbt")


@dataclass
class BuildSummary:
    succeeded: bool
    by_status: Counter[str] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    extraction: ExtractionSummary | None = None  # the features step before dbt, if it ran
    full_refresh: bool = False

    def describe(self) -> str:
        parts = [f"{count} {status}" for status, count in sorted(self.by_status.items())]
        return ", ".join(parts) or "nothing ran"


def read_run_results(path: Path = RUN_RESULTS) -> BuildSummary:
    """What the last dbt invocation did, from dbt's own run_results.json."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return BuildSummary(succeeded=False, failures=["dbt wrote no run_results.json"])
    by_status: Counter[str] = Counter()
    failures = []
    for result in data.get("results", []):
        status = str(result.get("status"))
        by_status[status] += 1
        if status in {"error", "fail", "runtime error"}:
            failures.append(f"{result.get('unique_id')}: {(result.get('message') or '').strip()}")
    return BuildSummary(succeeded=not failures, by_status=by_status, failures=failures)


def run_dbt(
    url: str,
    args: Sequence[str],
    *,
    quiet: bool = False,
    silent: bool = False,
    extra_env: Mapping[str, str] | None = None,
) -> BuildSummary:
    """Run `dbt ARGS` on the warehouse at `url` (`extra_env` added to its environment).

    dbt's output goes to this process's terminal (only errors with `quiet`,
    nothing with `silent`).
    """
    command = [dbt_executable(), *(["--quiet"] if quiet or silent else []), *args]
    done = subprocess.run(
        command,
        cwd=DBT_PROJECT_DIR,
        env={**dbt_env(url, os.environ), **(extra_env or {})},
        stdout=subprocess.DEVNULL if silent else None,
        preexec_fn=die_with_parent(),
    )
    summary = read_run_results()
    if done.returncode != 0 and summary.succeeded:
        summary.succeeded = False
        summary.failures.append(f"dbt exited with code {done.returncode}")
    return summary


def dbt_build(
    url: str, *, full_refresh: bool = False, select: str | None = None, quiet: bool = False
) -> BuildSummary:
    """`dbt build`: models and their tests, in dependency order.

    An incremental build tests only the rows it writes (dbt/macros/test_scope.sql).
    Files re-parsed since the last build, or marts built with other columns
    (by an older version), make it a full refresh.
    """
    with build_lock(url):
        plan = plan_build(url, full_refresh)
        args = ["build", *dbt_build_flags(plan.full_refresh)]
        if select:
            args += ["--select", select]
        summary = run_dbt(url, args, quiet=quiet, extra_env=plan.bounds)
    summary.full_refresh = plan.full_refresh
    return summary


# Held for the whole of a dbt build, on a connection of its own: two builds
# at once would create the same tables at once and one would fail. A second
# build waits, then plans and builds what the first left (often nothing).
BUILD_LOCK_KEY = 0x7061_7065_7262_6C64  # "paperbld"


@contextmanager
def build_lock(url: str) -> Iterator[None]:
    """Wait for any other build on this warehouse to end, and keep others waiting until the block ends.

    A session lock: it is released when the block ends or the process dies.
    """
    with connect(url) as conn:
        conn.execute("select pg_advisory_lock(%s)", [BUILD_LOCK_KEY])
        yield


@dataclass(frozen=True)
class BuildPlan:
    full_refresh: bool
    bounds: dict[str, str]  # dbt's environment: dbt_build_bounds


def plan_build(url: str, full_refresh: bool = False) -> BuildPlan:
    """Whether the next `dbt build` must be a full refresh, and what it takes and tests.

    The one place this is decided: `dbt_build` and the Dagster dbt asset both ask.
    """
    watermark = built_watermark(url)
    full_refresh = full_refresh or needs_full_refresh(url, watermark)
    return BuildPlan(
        full_refresh, dbt_build_bounds(0 if full_refresh else watermark, extracted_through(url))
    )


def dbt_build_flags(full_refresh: bool) -> list[str]:
    return ["--full-refresh"] if full_refresh else []


def dbt_build_bounds(watermark: int, through: int) -> dict[str, str]:
    """What one `dbt build` takes and tests, as the environment dbt/macros/test_scope.sql reads (pure).

    It takes the files up to ingest_seq `through` (see features.extracted_through);
    its tests start above `watermark` (0: test everything). Environment
    variables, not --vars: new --vars make dbt re-parse the whole project.
    """
    return {
        "PAPERHOUSE_BUILD_THROUGH_INGEST_SEQ": str(through),
        "PAPERHOUSE_TEST_SINCE_INGEST_SEQ": str(watermark),
    }


def built_watermark(url: str) -> int:
    """The highest ingest_seq the marts hold (0 before the first build)."""
    with connect(url) as conn:
        if conn.execute("select to_regclass('analytics.fct_paper_listings')").fetchone()[0] is None:
            return 0
        return conn.execute(
            "select coalesce(max(ingest_seq), 0) from analytics.fct_paper_listings"
        ).fetchone()[0]


def needs_full_refresh(url: str, watermark: int) -> bool:
    """Whether what the marts hold has changed in a way an incremental build cannot follow:
    files re-parsed since the build, or marts whose columns the models no longer have."""
    return files_reparsed_since_build(url, watermark) > 0 or bool(marts_with_changed_columns(url))


def marts_with_changed_columns(url: str) -> list[str]:
    """The incremental marts whose table's columns or their types are not those of their contract.

    A new paperhouse version can add or drop a mart's column or change its
    type; dbt refuses an incremental build of such a table (on_schema_change:
    fail), and the whole table must be rebuilt anyway to fill a new column.
    Types are compared as PostgreSQL names them (`timestamptz` is `timestamp
    with time zone`), without modifiers: numeric(14, 4) and numeric(10, 2)
    are the same type here.
    """
    if not MANIFEST.exists():
        # Never parsed here (`make` parses first): dbt's own check then stops
        # a changed mart with its message, and the next build finds it here.
        return []
    nodes = json.loads(MANIFEST.read_text())["nodes"].values()
    expected = {
        (node["schema"], node["name"]): {
            name: column.get("data_type") for name, column in node["columns"].items()
        }
        for node in nodes
        if node["resource_type"] == "model"
        and node["config"].get("materialized") == "incremental"
        and node["config"].get("contract", {}).get("enforced")
    }
    with connect(url) as conn:
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


def files_reparsed_since_build(url: str, watermark: int) -> int:
    """Files the marts (built up to `watermark`) hold under an older ingest_seq: re-parsed since.

    Their listings may have moved between papers, which an incremental
    build, adding only what is new, cannot follow (ingest/reparse.py).
    """
    if not watermark:
        return 0  # nothing built yet
    with connect(url) as conn:
        row = conn.execute(
            "select count(*) from raw.ingested_files as files where files.ingest_seq > %s and exists ("
            "    select from analytics.fct_paper_listings as facts where facts.file_id = files.file_id)",
            [watermark],
        ).fetchone()
    return row[0] if row else 0


def build(
    url: str,
    *,
    full_refresh: bool = False,
    select: str | None = None,
    quiet: bool = False,
    on_start: Callable[[int], None] | None = None,
    on_batch: Callable[[int], None] | None = None,
) -> BuildSummary:
    """The features step for listings that need it, then `dbt build`.

    A changed extractor (a new rule, a recalibrated reference) re-extracts
    listings the marts already hold, and a re-parsed file replaces them,
    which their watermarks cannot see: the build is then a full refresh.
    `on_start`/`on_batch` report the features step's progress in listings.
    """
    extraction = extract_pending(url, on_start=on_start, on_batch=on_batch)
    full_refresh = full_refresh or extraction.reextracted_files > 0  # re-parsed files: dbt_build
    summary = dbt_build(url, full_refresh=full_refresh, select=select, quiet=quiet)
    summary.extraction = extraction
    return summary


def parse_project() -> Path:
    """Write dbt/target/manifest.json, which dagster-dbt reads at import; needs no database.

    The profile still has to render, so placeholder connection values stand in.
    """
    env = dbt_env("postgresql://paperhouse@localhost:5432/paperhouse", os.environ)
    subprocess.run([dbt_executable(), "--quiet", "parse"], cwd=DBT_PROJECT_DIR, env=env, check=True)
    return MANIFEST


if __name__ == "__main__":  # `python -m orchestration.build` (the Makefile's manifest step)
    print(parse_project())

"""Running dbt on the warehouse: its environment, the process, and what it reports.

dbt runs as its own process (as dagster-dbt runs it), with the connection
passed through the environment variables that dbt/profiles.yml reads.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from psycopg.conninfo import conninfo_to_dict

from orchestration.settings import DBT_PROJECT_DIR
from orchestration.workers import dying_with_parent

# The project's manifest, which dagster-dbt reads when the definitions load.
MANIFEST = DBT_PROJECT_DIR / "target" / "manifest.json"

# dbt's sessions check every few seconds that dbt is still there: a build
# killed outright (its dbt with it, workers.dying_with_parent) leaves no query
# running on the server, holding the tables the next build wants.
DBT_SESSION_OPTIONS = "-c client_connection_check_interval=2s"

# dbt.log gains a few hundred kB of debug lines a build; dbt rolls it over at
# this size and keeps five old ones, so a warehouse's log stays under about
# 12 MB however long it runs.
DBT_LOG_FILE_BYTES = 2 * 1024 * 1024


def target_path(url: str) -> Path:
    """dbt's artifacts (run_results.json, compiled SQL, its partial parse) of the warehouse at
    `url`, relative to dbt/. Builds of one warehouse take turns; builds of two warehouses from
    one checkout run at once, and each must read its own run_results.json."""
    info = conninfo_to_dict(url)
    where = f"{info.get('host') or ''}:{info.get('port') or ''}/{info.get('dbname') or ''}"
    digest = hashlib.sha256(where.encode()).hexdigest()[:12]
    readable = re.sub(r"[^A-Za-z0-9_-]+", "_", str(info.get("dbname") or "warehouse"))[:40]
    return Path("target") / "warehouses" / f"{readable}-{digest}"


def run_results_path(url: str) -> Path:
    return DBT_PROJECT_DIR / target_path(url) / "run_results.json"


def remove_artifacts(url: str) -> None:
    """Delete dbt's folder of the warehouse at `url`, for a database that is dropped."""
    shutil.rmtree(DBT_PROJECT_DIR / target_path(url), ignore_errors=True)


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


def dbt_env(url: str, environ: Mapping[str, str]) -> dict[str, str]:
    """`environ` plus the profile's variables and where dbt finds its project.

    dbt's debug log goes to the warehouse's own folder, as dagster-dbt's does: dbt rolls its
    log over by renaming the old files one by one, and two processes rolling one folder over
    at once (builds of two warehouses) trip on each other's renames."""
    env = {"DBT_LOG_FILE_MAX_BYTES": str(DBT_LOG_FILE_BYTES), **environ, **dbt_profile_env(url)}
    env.update(
        DBT_PROFILES_DIR=str(DBT_PROJECT_DIR),
        DBT_PROJECT_DIR=str(DBT_PROJECT_DIR),
        DBT_TARGET_PATH=str(target_path(url)),
        DBT_LOG_PATH=str(target_path(url)),
    )
    # dagster-dbt and our own calls find `dbt` beside this Python.
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), environ.get("PATH", "")])
    return env


def dbt_executable() -> str:
    return str(Path(sys.executable).parent / "dbt")


@dataclass(frozen=True)
class NodeResult:
    """One node of a dbt invocation as run_results.json records it."""

    unique_id: str
    status: str
    seconds: float
    rows_affected: int | None = None
    failures: int | None = None  # rows a test found


@dataclass
class BuildSummary:
    succeeded: bool
    by_status: Counter[str] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    nodes: list[NodeResult] = field(default_factory=list)

    def describe(self) -> str:
        parts = [f"{count} {status}" for status, count in sorted(self.by_status.items())]
        return ", ".join(parts) or "nothing ran"


def read_run_results(path: Path) -> BuildSummary:
    """What a dbt invocation did, from dbt's own run_results.json at `path`."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return BuildSummary(succeeded=False, failures=["dbt wrote no run_results.json"])
    by_status: Counter[str] = Counter()
    failures = []
    nodes = []
    for result in data.get("results", []):
        status = str(result.get("status"))
        by_status[status] += 1
        if status in {"error", "fail", "runtime error"}:
            failures.append(f"{result.get('unique_id')}: {(result.get('message') or '').strip()}")
        rows = (result.get("adapter_response") or {}).get("rows_affected")
        nodes.append(
            NodeResult(
                unique_id=str(result.get("unique_id")),
                status=status,
                seconds=float(result.get("execution_time") or 0.0),
                rows_affected=rows if isinstance(rows, int) and rows >= 0 else None,
                failures=result.get("failures"),
            )
        )
    return BuildSummary(succeeded=not failures, by_status=by_status, failures=failures, nodes=nodes)


def run_dbt(
    url: str,
    args: Sequence[str],
    *,
    quiet: bool = False,
    silent: bool = False,
    extra_env: Mapping[str, str] | None = None,
    on_node: Callable[[int, int | None, str], None] | None = None,
) -> BuildSummary:
    """Run `dbt ARGS` on the warehouse at `url` (`extra_env` added to its environment).

    dbt's output goes to this process's terminal (only errors with `quiet`,
    nothing with `silent`). With `on_node`, dbt's log is read as it runs
    instead, only its errors are printed (as with `quiet`), and
    `on_node(ended, total, name)` is called as each node ends.
    """
    if on_node is not None and not silent:
        returncode = _follow_dbt(url, args, on_node, extra_env=extra_env)
    else:
        returncode = call_dbt(
            url,
            [*(["--quiet"] if quiet or silent else []), *args],
            extra_env=extra_env,
            silent=silent,
        )
    summary = read_run_results(run_results_path(url))
    if returncode != 0 and summary.succeeded:
        summary.succeeded = False
        summary.failures.append(f"dbt exited with code {returncode}")
    return summary


def call_dbt(
    url: str,
    args: Sequence[str],
    *,
    extra_env: Mapping[str, str] | None = None,
    silent: bool = False,
) -> int:
    """`dbt ARGS` in dbt/ on the warehouse at `url`, output to this terminal; its exit code."""
    return subprocess.run(
        **_dbt_process(url, args, extra_env),
        check=False,
        stdout=subprocess.DEVNULL if silent else None,
    ).returncode


def _dbt_process(
    url: str, args: Sequence[str], extra_env: Mapping[str, str] | None
) -> dict[str, object]:
    """How every dbt process starts: in dbt/, with the warehouse's connection in its environment,
    dying with this process."""
    return {
        "args": dying_with_parent([dbt_executable(), *args]),
        "cwd": DBT_PROJECT_DIR,
        "env": {**dbt_env(url, os.environ), **(extra_env or {})},
    }


# dbt's events for a node that ended, whatever the outcome (built, passed, failed, no-op,
# skipped). In its JSON log each carries the number of nodes in the run, as the text
# log's "13 of 51 OK" does: `total`, or `num_models` for a test.
NODE_ENDED_EVENTS = frozenset(
    {
        "LogModelResult",
        "LogTestResult",
        "LogNodeResult",
        "LogNodeNoOpResult",
        "LogSeedResult",
        "LogSnapshotResult",
        "LogFunctionResult",
        "LogFreshnessResult",
        "LogSkipBecauseError",
        "SkippingDetails",
    }
)


@dataclass
class DbtLog:
    """dbt's JSON log (`--log-format json`), read a line at a time: how many nodes have ended,
    of how many, and what a `--quiet` dbt would have printed (its errors)."""

    ended: int = 0
    total: int | None = None

    def read(self, line: str) -> tuple[str | None, str | None]:
        """(a line to show the user, the name of a node that has just ended) of one log line."""
        try:
            event = json.loads(line)
            info, data = event["info"], event.get("data") or {}
            name, level, message = info["name"], info.get("level"), info.get("msg")
            total = data.get("total") or data.get("num_models")
            node = (data.get("node_info") or {}).get("node_name") or data.get("node_name")
        except (ValueError, TypeError, KeyError, AttributeError):
            # not an event: what dbt prints outside its logger (a crash, a warning of Python's)
            return line.rstrip("\n") or None, None
        shown = (str(message or "") or None) if level == "error" else None
        if name not in NODE_ENDED_EVENTS:
            return shown, None
        self.ended += 1
        if isinstance(total, int) and total >= self.ended:
            self.total = total
        return shown, str(node or "?")


def _follow_dbt(
    url: str,
    args: Sequence[str],
    on_node: Callable[[int, int | None, str], None],
    *,
    extra_env: Mapping[str, str] | None = None,
) -> int:
    """`dbt ARGS` with its log read as it runs (see run_dbt); its exit code. The log file keeps
    dbt's own format: only what dbt prints becomes JSON."""
    log = DbtLog()
    # the errors it passes on are printed here: coloured only for a terminal
    colours = "--use-colors" if sys.stdout.isatty() else "--no-use-colors"
    logged = ["--log-format", "json", "--log-format-file", "debug", colours, *args]
    with subprocess.Popen(
        **_dbt_process(url, logged, extra_env),
        stdout=subprocess.PIPE,
        text=True,
        encoding="utf-8",
        errors="replace",
    ) as dbt:
        assert dbt.stdout is not None
        try:
            for line in dbt.stdout:
                shown, node = log.read(line)
                if shown is not None:
                    print(shown, flush=True)
                if node is not None:
                    on_node(log.ended, log.total, node)
        except BaseException:  # Ctrl-C, or a callback that failed: dbt stops too, as in run()
            dbt.kill()
            raise
    return dbt.returncode


# What dbt parses into the manifest (the Makefile's DBT_SOURCES), under dbt/.
DBT_SOURCES = ("models", "macros", "tests", "dbt_project.yml", "profiles.yml")


def manifest_is_stale(manifest: Path = MANIFEST, project: Path = DBT_PROJECT_DIR) -> bool:
    """Whether `manifest` is missing or older than a file or folder dbt parses, as `make` judges
    it: a checkout upgraded (`git pull`) and run without `make` still has the old manifest, and
    the marts' contracts in it would hide a changed column from the build's plan."""
    try:
        written = manifest.stat().st_mtime_ns
    except FileNotFoundError:
        return True
    for name in DBT_SOURCES:
        top = project / name
        if not top.exists():
            continue
        # folders too: deleting a model changes only its folder's time
        paths = [top, *top.rglob("*")] if top.is_dir() else [top]
        if any(_modified_after(path, written) for path in paths):
            return True
    return False


def _modified_after(path: Path, written: int) -> bool:
    # A path that cannot be read (a dangling link, a link loop, a file removed meanwhile)
    # counts as changed: dbt's parse then reads the project afresh and names what is wrong.
    try:
        return path.stat().st_mtime_ns > written
    except OSError:
        return True


def parse_project() -> Path:
    """Write dbt/target/manifest.json, which dagster-dbt reads at import; needs no database.

    The profile still has to render, so placeholder connection values stand in. dbt parses
    into a folder of its own and the manifest then replaces the old one in one rename: a
    process loading the definitions meanwhile (a test worker, a Dagster code server) reads
    the old manifest or the new one, never half of one.
    """
    env = dbt_env("postgresql://paperhouse@localhost:5432/paperhouse", os.environ)
    MANIFEST.parent.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(dir=MANIFEST.parent, prefix="parse-") as scratch:
        subprocess.run(
            # its log is thrown away with the folder: test workers parse at once
            [dbt_executable(), "--quiet", "parse", "--target-path", scratch, "--log-path", scratch],
            cwd=DBT_PROJECT_DIR,
            env=env,
            check=True,
        )
        os.replace(Path(scratch) / "manifest.json", MANIFEST)
    return MANIFEST


if __name__ == "__main__":  # `python -m orchestration.models.runner` (the Makefile's manifest step)
    print(parse_project())

"""The pipeline, defined once: ingest the inbox, extract the features of new listings, build the
models (a planned dbt build), check the warehouse.

`paperhouse run` runs these steps in order in one process; Dagster runs
each as an asset or check (orchestration/defs) calling the same functions,
so whoever starts a run, the same code decides what is ingested and built.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from orchestration import checks
from orchestration.checks import CheckResult
from orchestration.features import ExtractionSummary, extract_pending
from orchestration.ingest.batch import IngestReport, ingest_paths
from orchestration.ingest.inbox import InboxFile
from orchestration.ingest.load import FileResult
from orchestration.models.plan import BuildPlan, build_turn, plan_build, planned_build
from orchestration.models.runner import BuildSummary, call_dbt, run_dbt
from orchestration.settings import Settings
from orchestration.warehouse import connect


def ingest(
    url: str,
    paths: list[Path],
    settings: Settings,
    *,
    on_start: Callable[[list[InboxFile]], None] | None = None,
    on_file: Callable[[FileResult], None] | None = None,
) -> IngestReport:
    """Every new file under `paths` into the raw tables, each exactly once."""
    return ingest_paths(
        url, paths, settle_seconds=settings.settle_seconds, on_start=on_start, on_file=on_file
    )


def extract_features(
    url: str,
    *,
    on_start: Callable[[int], None] | None = None,
    on_batch: Callable[[int], None] | None = None,
    on_wait: Callable[[], None] | None = None,
) -> ExtractionSummary:
    """The keyphrases and search documents of every listing that has none from the current
    extractor; `on_wait()` is called if another features step runs and this one waits for it."""
    return extract_pending(url, on_start=on_start, on_batch=on_batch, on_wait=on_wait)


@dataclass
class ModelsReport:
    plan: BuildPlan
    dbt: BuildSummary

    @property
    def succeeded(self) -> bool:
        return self.dbt.succeeded


def build_models(
    url: str,
    *,
    full_refresh: bool = False,
    selection: str | None = None,
    quiet: bool = False,
    on_wait: Callable[[], None] | None = None,
    on_blocked: Callable[[str], None] | None = None,
    on_node: Callable[[int, int | None, str], None] | None = None,
) -> ModelsReport:
    """One planned `dbt build` (orchestration/models/plan.py) as a process of its own;
    `on_wait()` is called if it has to wait for another build or dbt command,
    `on_blocked(message)` for each session whose lock keeps it waiting, and
    `on_node(ended, total, name)` as each of its nodes ends (runner.run_dbt)."""
    with planned_build(
        url, full_refresh=full_refresh, selection=selection, on_wait=on_wait, on_blocked=on_blocked
    ) as build:
        summary = run_dbt(
            url, build.plan.dbt_args, quiet=quiet, extra_env=build.plan.dbt_env, on_node=on_node
        )
        build.succeeded = summary.succeeded
    return ModelsReport(build.plan, summary)


# dbt commands that write the marts: planned, taking turns and logged as every build is.
DBT_WRITING_COMMANDS = frozenset({"build", "run", "seed", "snapshot"})


def dbt_writes(args: list[str]) -> bool:
    """Whether `dbt ARGS` writes the marts: any writing command's name among the arguments.

    Anywhere, not only first: a global flag's value may come before the
    command (`--log-level debug build`), and a false alarm only takes a turn.
    """
    return any(arg in DBT_WRITING_COMMANDS for arg in args)


def dbt_waits_for_builds(args: list[str]) -> bool:
    """Whether `dbt ARGS` takes the build's turn: every command but `docs serve`, which only
    reads the target folder and runs until stopped (holding the turn, it would stop every
    build for as long as it serves)."""
    return "serve" not in args


def dbt_command(
    url: str,
    args: list[str],
    on_wait: Callable[[], None] | None = None,
    on_blocked: Callable[[str], None] | None = None,
) -> int:
    """`dbt ARGS` as a user types it (`paperhouse dbt ...`), on the warehouse; dbt's exit code.

    A command that writes the marts waits for any other build, follows the
    build's plan (its bounds, and a full refresh where an incremental build
    cannot follow) and is logged in meta.builds; the others (docs, show,
    compile, test, ls) get the connection and the next build's bounds, so
    that a model shows what a build would take. They take the build's turn too
    (but `docs serve`): they write dbt's target folder, which a build reads back.
    `on_wait()` is called when a command has to wait, and `on_blocked(message)` names a
    session whose lock keeps a writing command waiting.
    """
    if not dbt_writes(args):
        with build_turn(url, on_wait) if dbt_waits_for_builds(args) else connect(url) as conn:
            bounds = plan_build(conn).dbt_env
            return call_dbt(url, args, extra_env=bounds)
    command = next(arg for arg in args if arg in DBT_WRITING_COMMANDS)
    whole = [arg for arg in args if arg != "--full-refresh"] == [command]
    with planned_build(
        url,
        full_refresh="--full-refresh" in args,
        selection=None if whole else " ".join(args),
        on_wait=on_wait,
        on_blocked=on_blocked,
    ) as build:
        if build.plan.full_refresh and command in ("build", "run") and "--full-refresh" not in args:
            args = [*args, "--full-refresh"]
        returncode = call_dbt(url, args, extra_env=build.plan.dbt_env)
        build.succeeded = returncode == 0
    return returncode


def check_warehouse(url: str, settings: Settings) -> list[CheckResult]:
    """The checks of orchestration/checks.py, on the warehouse as it is now."""
    with connect(url) as conn:
        return [
            checks.no_file_rejected(conn),
            checks.no_keyphrase_error(conn),
            checks.listings_map_to_papers(conn),
            checks.newest_file_is_fresh(conn, settings.freshness_hours),
        ]


@dataclass
class BuildReport:
    extraction: ExtractionSummary
    models: ModelsReport

    @property
    def succeeded(self) -> bool:
        return self.models.succeeded

    @property
    def full_refresh(self) -> bool:
        return self.models.plan.full_refresh

    @property
    def failures(self) -> list[str]:
        return self.models.dbt.failures

    @property
    def by_status(self) -> Counter[str]:
        return self.models.dbt.by_status


def build(
    url: str,
    *,
    full_refresh: bool = False,
    selection: str | None = None,
    quiet: bool = False,
    on_start: Callable[[int], None] | None = None,
    on_batch: Callable[[int], None] | None = None,
    on_features_wait: Callable[[], None] | None = None,
    on_build_wait: Callable[[], None] | None = None,
    on_blocked: Callable[[str], None] | None = None,
    on_node: Callable[[int, int | None, str], None] | None = None,
) -> BuildReport:
    """The features step, then the models: `paperhouse build`, and the second half of a run.
    Each step waits for its own kind running elsewhere, calling its `on_..._wait()` first;
    `on_blocked` and `on_node` follow the dbt build (build_models)."""
    extraction = extract_features(
        url, on_start=on_start, on_batch=on_batch, on_wait=on_features_wait
    )
    models = build_models(
        url,
        full_refresh=full_refresh,
        selection=selection,
        quiet=quiet,
        on_wait=on_build_wait,
        on_blocked=on_blocked,
        on_node=on_node,
    )
    return BuildReport(extraction, models)

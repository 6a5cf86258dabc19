"""The command line's runs in Dagster's history: what `paperhouse run`, `ingest`, `reingest` and
`build` did, reported to the warehouse's Dagster instance (orchestration/instance.py) as asset
events, so that the UI shows one history whoever ran the pipeline.

A run Dagster launches records its own events; a CLI command reports the
same ones without a run: the materializations with the metadata the assets
give theirs, each dbt model it built, each dbt test and warehouse check
as a check evaluation. Event building is pure (tested against the
Definitions' own keys); only `report` touches the instance.

The command does not wait for it: it leaves what it did in a file and starts
`python -m orchestration.history FILE` on its own (orchestration/cli/recording.py),
which imports Dagster (a second of CPU), opens the instance and reports, after
the command's work and outside its process: a parser never shares its cores
or its GIL with Dagster's import.
"""

from __future__ import annotations

import json
import os
import pickle
import sys
import time
import traceback
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dagster as dg

from orchestration.checks import CheckResult
from orchestration.defs.metadata import features_metadata, ingest_metadata
from orchestration.defs.shared import (
    CHECKED_ASSETS,
    EXTRACTED_FILES,
    LISTING_KEYWORDS,
    LISTING_SEARCH_DOCUMENTS,
    RAW_FILES,
    RAW_LISTINGS,
    check_metadata,
    check_severity,
    dbt_asset_key,
)
from orchestration.features import ExtractionSummary
from orchestration.ingest.batch import IngestReport
from orchestration.instance import instance_env, pending_reports_in
from orchestration.models.runner import MANIFEST, BuildSummary, NodeResult
from orchestration.settings import Settings
from orchestration.workers import process_exists

AssetEvent = dg.AssetMaterialization | dg.AssetCheckEvaluation

# dbt statuses of a node that ran and left its table in place (as dagster-dbt counts them).
BUILT_STATUSES = frozenset({"success", "no-op", "reused", "warn"})
# dbt statuses of a test that ran to a verdict.
TESTED_STATUSES = frozenset({"pass", "warn", "fail", "error"})


@dataclass
class CommandRun:
    """What one command did to the warehouse."""

    command: str  # as the user typed it: "paperhouse run"
    ingest: IngestReport | None = None
    extraction: ExtractionSummary | None = None
    dbt: BuildSummary | None = None
    checks: list[CheckResult] = field(default_factory=list)


def asset_events(run: CommandRun, manifest: Mapping[str, Any]) -> list[AssetEvent]:
    """The events Dagster would have recorded had it run what `run` did (pure)."""
    said = f"reported by `{run.command}` (the command line)"
    events: list[AssetEvent] = []
    if run.ingest is not None and run.ingest.results:
        metadata = ingest_metadata(run.ingest)
        events += [
            dg.AssetMaterialization(
                RAW_FILES, description=said, metadata={"files_seen": metadata["files_seen"]}
            ),
            dg.AssetMaterialization(RAW_LISTINGS, description=said, metadata=metadata),
        ]
    if run.extraction is not None and run.extraction.files:
        metadata = features_metadata(run.extraction)
        events += [
            dg.AssetMaterialization(key, description=said, metadata=metadata)
            for key in (EXTRACTED_FILES, LISTING_KEYWORDS, LISTING_SEARCH_DOCUMENTS)
        ]
    for node in run.dbt.nodes if run.dbt else []:
        event = dbt_event(node, manifest, said)
        if event is not None:
            events.append(event)
    events += [
        dg.AssetCheckEvaluation(
            asset_key=CHECKED_ASSETS[result.name],
            check_name=result.name,
            passed=result.passed,
            severity=check_severity(result),
            description=result.description,
            metadata=check_metadata(result),
        )
        for result in run.checks
    ]
    return events


def dbt_event(node: NodeResult, manifest: Mapping[str, Any], said: str) -> AssetEvent | None:
    """A built model as a materialization, a test as a check evaluation on the node it tests."""
    props = manifest["nodes"].get(node.unique_id)
    if props is None:
        return None
    metadata: dict[str, Any] = {
        "status": node.status,
        "execution_seconds": round(node.seconds, 3),
        "unique_id": node.unique_id,
    }
    if props["resource_type"] == "model" and node.status in BUILT_STATUSES:
        if node.rows_affected is not None:
            metadata["rows_affected"] = node.rows_affected
        return dg.AssetMaterialization(dbt_asset_key(props), description=said, metadata=metadata)
    if props["resource_type"] == "test" and node.status in TESTED_STATUSES:
        tested = tested_node(props, manifest)
        if tested is None:
            return None
        if node.failures is not None:
            metadata["failed_row_count"] = node.failures
        return dg.AssetCheckEvaluation(
            asset_key=dbt_asset_key(tested),
            check_name=props["name"],
            passed=node.status == "pass",
            severity=dg.AssetCheckSeverity.WARN
            if node.status == "warn"
            else dg.AssetCheckSeverity.ERROR,
            description=said,
            metadata=metadata,
        )
    return None


def tested_node(test: Mapping[str, Any], manifest: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The model a test is a check of, by dagster-dbt's rules: a generic test's attached node, a
    singular test's one parent, or the model its meta names (`dagster: {ref: {name: ...}}`);
    and only a model the test reads (dagster-dbt makes no check of a source's tests here).

    Written out rather than imported: dagster-dbt's import costs the CLI two
    seconds a command; tests/test_dagster.py holds these keys to the Definitions'.
    """
    parents = test["depends_on"]["nodes"]
    unique_id = test.get("attached_node") or (parents[0] if len(parents) == 1 else None)
    meta = test.get("config", {}).get("meta") or test.get("meta") or {}
    ref = meta.get("dagster", {}).get("ref", {}).get("name")
    if ref:
        unique_id = next(
            (uid for uid, props in manifest["nodes"].items() if props["name"] == ref), None
        )
    if unique_id not in parents or not str(unique_id).startswith("model."):
        return None
    return manifest["nodes"][unique_id]


def read_manifest() -> dict[str, Any]:
    return json.loads(MANIFEST.read_text())


def open_instance(settings: Settings, warehouse_url: str) -> dg.DagsterInstance:
    """The warehouse's Dagster instance, as `paperhouse ui` opens it."""
    env = instance_env(settings, warehouse_url)
    # The instance file reads its storage URL from the environment.
    os.environ.update(env)
    return dg.DagsterInstance.from_config(env["DAGSTER_HOME"])


def report(events: list[AssetEvent], instance: dg.DagsterInstance) -> None:
    """Record `events` in `instance`, as runs without a Dagster run."""
    for event in events:
        instance.report_runless_asset_event(event)


def report_file(path: Path) -> bool:
    """Report the command run left in `path` (settings, warehouse URL and what it did, pickled
    by the command itself), then delete it; whether it was reported. A failure is told on
    stderr, which is history.log in the Dagster home."""
    try:
        with open(path, "rb") as handle:
            settings, warehouse_url, parts = pickle.load(handle)
        run = CommandRun(**parts)
        with open_instance(settings, warehouse_url) as instance:
            report(asset_events(run, read_manifest()), instance)
        return True
    except Exception:  # the traceback goes to history.log, under a dated line
        print(f"{datetime.now(UTC).isoformat()} {path.name} was not reported:", file=sys.stderr)
        traceback.print_exc()
        return False
    finally:
        path.unlink(missing_ok=True)


# A report whose reporter died (killed outright, the machine switched off) or never started
# stays in the Dagster home, and the next command's reporter delivers it. A reporter claims a
# report by renaming it to carry its process id, so that no report is delivered twice; a claim
# whose process is gone is taken over, and a report nobody claimed is taken once it is older
# than this (its command starts its reporter the moment it has written it).
CLAIMED = ".claimed-"
UNCLAIMED_SECONDS = 60


def claim(path: Path) -> Path | None:
    """`path` renamed as this process's; None if another reporter took it first."""
    claimed = path.with_name(f"{path.name.partition(CLAIMED)[0]}{CLAIMED}{os.getpid()}")
    try:
        path.rename(claimed)
    except FileNotFoundError:
        return None
    return claimed


def abandoned_reports(home: Path, now: float) -> list[Path]:
    """Reports in `home` that no living reporter is delivering."""
    found = []
    for path in pending_reports_in(home):
        _, claimed, pid = path.name.partition(CLAIMED)
        try:
            if claimed:
                if not process_exists(int(pid)):
                    found.append(path)
            elif now - path.stat().st_mtime > UNCLAIMED_SECONDS:
                found.append(path)
        except ValueError:  # not a process id
            found.append(path)
        except OSError:  # the file went meanwhile
            continue
    return found


def report_pending(own: Path) -> bool:
    """Report the command run in `own`, then every abandoned report beside it; whether all
    were reported."""
    reported = True
    claimed = claim(own)
    if claimed is not None:
        reported = report_file(claimed)
    for path in abandoned_reports(own.parent, time.time()):
        claimed = claim(path)
        if claimed is not None:
            reported = report_file(claimed) and reported
    return reported


if __name__ == "__main__":
    sys.exit(0 if report_pending(Path(sys.argv[1])) else 1)

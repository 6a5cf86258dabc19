"""The inbox sensor: one ingest-and-build run whenever new bytes land in the inbox."""

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg

from orchestration.defs.pipeline.jobs import INGEST_AND_BUILD
from orchestration.defs.resources import WarehouseResource
from orchestration.ingest.inbox import scan
from orchestration.ingest.load import fingerprint
from orchestration.settings import Settings
from orchestration.warehouse import connect


@dataclass
class InboxCursor:
    """What the sensor remembers between ticks.

    `requested`: SHA-256s it asked a run for that the ledger may not show yet.
    `hashes`: the last known (size, mtime_ns, sha256) of each inbox file, so an
    unchanged file is not hashed again on every tick.
    """

    requested: set[str] = field(default_factory=set)
    hashes: dict[str, tuple[int, int, str]] = field(default_factory=dict)

    @classmethod
    def load(cls, text: str | None) -> "InboxCursor":
        if not text:
            return cls()
        data = json.loads(text)
        return cls(
            requested=set(data.get("requested", [])),
            hashes={path: tuple(entry) for path, entry in data.get("hashes", {}).items()},  # type: ignore[misc]
        )

    def dump(self) -> str:
        return json.dumps(
            {"requested": sorted(self.requested), "hashes": self.hashes}, sort_keys=True
        )


def inbox_hashes(
    inbox: Path, settle_seconds: float, cache: dict[str, tuple[int, int, str]]
) -> dict[str, tuple[int, int, str]]:
    """SHA-256 of every settled inbox file, reusing `cache` for files that did not change."""
    current: dict[str, tuple[int, int, str]] = {}
    for file in scan([inbox], settle_seconds=settle_seconds).files:
        # The cursor is JSON: a name that is not UTF-8 is kept as its escaped bytes.
        key = os.fsencode(file.path).decode("utf-8", "backslashreplace")
        mtime_ns = int(file.mtime * 1e9)
        cached = cache.get(key)
        if cached and cached[0] == file.size and cached[1] == mtime_ns:
            current[key] = cached
            continue
        try:
            sha256, size = fingerprint(file.path)
        except OSError:
            continue  # unreadable or gone: the ingest run reports it
        current[key] = (size, mtime_ns, sha256)
    return current


def plan_tick(
    hashes: dict[str, tuple[int, int, str]], ingested: set[str], cursor: InboxCursor
) -> tuple[str | None, "InboxCursor"]:
    """The run key to request (None: nothing new) and the next cursor (pure: tested on its own).

    Bytes already ingested, or already requested, are not new: a renamed copy
    asks for nothing. One run covers every new file; its key is derived from
    their SHA-256s, so a repeated tick can never launch it twice.
    """
    requested = cursor.requested - ingested  # forget what the ledger now shows
    new = {entry[2] for entry in hashes.values()} - ingested - requested
    run_key = run_key_for(new) if new else None
    return run_key, InboxCursor(requested=requested | new, hashes=hashes)


def run_key_for(shas: set[str]) -> str:
    return "inbox-" + hashlib.sha256("\n".join(sorted(shas)).encode()).hexdigest()[:20]


def ingested_shas(warehouse: WarehouseResource, candidates: set[str]) -> set[str]:
    if not candidates:
        return set()
    with connect(warehouse.url()) as conn:
        rows = conn.execute(
            "select distinct sha256 from raw.ingested_files where sha256 = any(%s)",
            [sorted(candidates)],
        ).fetchall()
    return {row[0] for row in rows}


@dg.sensor(
    job_name=INGEST_AND_BUILD,
    minimum_interval_seconds=Settings.from_env().sensor_interval_seconds,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Requests one ingest-and-build run when new files land in the inbox.",
)
def inbox_sensor(
    context: dg.SensorEvaluationContext, warehouse: WarehouseResource
) -> dg.SensorResult:
    cursor = InboxCursor.load(context.cursor)
    settings = warehouse.settings()
    hashes = inbox_hashes(settings.inbox, settings.settle_seconds, cursor.hashes)
    candidates = {entry[2] for entry in hashes.values()} | cursor.requested
    run_key, next_cursor = plan_tick(hashes, ingested_shas(warehouse, candidates), cursor)
    if run_key is None:
        return dg.SensorResult(skip_reason="no new files in the inbox", cursor=next_cursor.dump())
    return dg.SensorResult(run_requests=[dg.RunRequest(run_key=run_key)], cursor=next_cursor.dump())

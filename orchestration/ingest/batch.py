"""Ingest many files: each in its own transaction, one file's trouble never stopping the others.

Only the warehouse itself failing (connection lost, server down) ends a run
early: files committed before that stay committed, and the next run goes on
where this one stopped.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from orchestration.ingest.inbox import InboxFile, PassedOver, scan
from orchestration.ingest.load import FileChanged, FileResult, Outcome, load_file
from orchestration.warehouse import WarehouseUnavailable, connect, first_line


@dataclass
class IngestReport:
    results: list[FileResult] = field(default_factory=list)
    passed_over: list[PassedOver] = field(default_factory=list)

    @property
    def by_outcome(self) -> Counter[Outcome]:
        return Counter(result.outcome for result in self.results)

    @property
    def listings_loaded(self) -> int:
        return sum(result.listing_count for result in self.results)


def ingest_paths(
    url: str,
    paths: Iterable[Path],
    *,
    settle_seconds: float,
    on_start: Callable[[list[InboxFile]], None] | None = None,
    on_file: Callable[[FileResult], None] | None = None,
) -> IngestReport:
    """Ingest every file under `paths` into the warehouse at `url` (its schema must be current)."""
    found = scan(paths, settle_seconds=settle_seconds)
    report = IngestReport(passed_over=found.passed_over)
    if on_start is not None:
        on_start(found.files)
    with connect(url) as conn:
        for file in found.files:
            result = ingest_one(conn, file)
            report.results.append(result)
            if on_file is not None:
                on_file(result)
    return report


def ingest_one(conn: psycopg.Connection, file: InboxFile) -> FileResult:
    """Load one file; every failure but the warehouse's own becomes a result."""
    try:
        return load_file(conn, file)
    except FileChanged:
        return FileResult(
            file.path, Outcome.RETRY, message="changed while it was being read; the next run reads it again"
        )
    except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
        # The warehouse is gone: stop the run. This file's transaction died
        # with the connection; files committed before it stay committed.
        raise WarehouseUnavailable(
            f"lost the warehouse while ingesting {file.name}: {first_line(exc)}\n"
            "files ingested before it are kept; run again once the warehouse is back"
        ) from exc
    except OSError as exc:
        return FileResult(file.path, Outcome.RETRY, message=f"cannot be read: {exc.strerror or exc}")
    except Exception as exc:  # noqa: BLE001 - a bug must not cost the other files
        # Not recorded as rejected: the file may be fine and paperhouse at
        # fault; rolled back, it is tried again on every run until fixed.
        return FileResult(
            file.path,
            Outcome.RETRY,
            message=f"paperhouse failed on this file ({type(exc).__name__}: {exc}); please report it",
        )

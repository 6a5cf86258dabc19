"""Ingest many files: each in its own transaction, one file's trouble never stopping the others.

Only the warehouse itself failing (connection lost, server down) ends a run
early: files committed before that stay committed, and the next run goes on
where this one stopped.

Big batches are spread over worker processes, each with its own connection:
with one connection the client waits for the server (COPY, commit) about half
the time, and a second one parses meanwhile. Files stay independent: the
ledger's unique index settles two workers meeting the same bytes.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path

import psycopg

from orchestration.ingest.inbox import InboxFile, PassedOver, scan
from orchestration.ingest.load import FileChanged, FileResult, Outcome, fingerprint, load_file
from orchestration.warehouse import WarehouseUnavailable, connect, first_line


# Worker processes take a second or so to start: only worth it for many files.
PARALLEL_MIN_FILES = 16
DEFAULT_WORKERS = min(os.cpu_count() or 1, 4)


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
    workers: int = DEFAULT_WORKERS,
    on_start: Callable[[list[InboxFile]], None] | None = None,
    on_file: Callable[[FileResult], None] | None = None,
) -> IngestReport:
    """Ingest every file under `paths` into the warehouse at `url` (its schema must be current)."""
    found = scan(paths, settle_seconds=settle_seconds)
    report = IngestReport(passed_over=found.passed_over)
    if on_start is not None:
        on_start(found.files)
    unchanged, new = _sort_out_unchanged(url, found.files)
    for result in [*unchanged, *_ingest_files(url, new, workers)]:
        report.results.append(result)
        if on_file is not None:
            on_file(result)
    return report


# A file to load, with its (SHA-256, size) when the sorting pass could read it.
NewFile = tuple[InboxFile, tuple[str, int] | None]


def _sort_out_unchanged(url: str, files: list[InboxFile]) -> tuple[list[FileResult], list[NewFile]]:
    """Files ingested before under the same name, found with two queries and no transaction each.

    An inbox keeps every file it ever received: without this, each run would
    open a transaction per old file just to learn it is known, a cost that
    grows with the warehouse rather than with what is new. A file whose name,
    size and modification time match its ledger row is not even read (the
    rule of make and rsync); any other file is known by its SHA-256.
    """
    with connect(url) as conn:
        by_stat = {
            (file_name, size_bytes, modified_at): file_id
            for file_name, size_bytes, modified_at, file_id in conn.execute(
                "select file_name, size_bytes, modified_at, coalesce(duplicate_of, file_id) "
                "from raw.ingested_files where file_name = any(%s) and modified_at is not null",
                [[file.name for file in files]],
            )
        }
        unchanged: list[FileResult] = []
        to_hash: list[InboxFile] = []
        for file in files:
            file_id = by_stat.get((file.name, file.size, file.modified_at))
            if file_id is None:
                to_hash.append(file)
            else:
                unchanged.append(FileResult(file.path, Outcome.UNCHANGED, file_id=file_id))

        fingerprints: dict[Path, tuple[str, int]] = {}
        for file in to_hash:
            try:
                fingerprints[file.path] = fingerprint(file.path)
            except OSError:
                pass  # the per-file path reports it
        by_content = {
            (sha256, file_name): file_id
            for sha256, file_name, file_id in conn.execute(
                "select sha256, file_name, coalesce(duplicate_of, file_id) "
                "from raw.ingested_files where sha256 = any(%s)",
                [sorted({sha256 for sha256, _ in fingerprints.values()})],
            )
        }
    new: list[NewFile] = []
    for file in to_hash:
        identity = fingerprints.get(file.path)
        file_id = by_content.get((identity[0], file.name)) if identity else None
        if file_id is None:
            new.append((file, identity))
        else:
            unchanged.append(FileResult(file.path, Outcome.UNCHANGED, file_id=file_id))
    return unchanged, new


def _ingest_files(url: str, files: list[NewFile], workers: int) -> Iterator[FileResult]:
    if workers > 1 and len(files) >= PARALLEL_MIN_FILES:
        # spawn, not fork: the caller may hold connections, or run inside Dagster
        with ProcessPoolExecutor(workers, mp_context=get_context("spawn")) as pool:
            yield from pool.map(_ingest_in_worker, [(url, file) for file in files])
        return
    with connect(url) as conn:
        for file, identity in files:
            yield ingest_one(conn, file, identity)


# A worker process's connection, opened by its first file.
_worker_connection: psycopg.Connection | None = None


def _ingest_in_worker(job: tuple[str, NewFile]) -> FileResult:
    global _worker_connection
    url, (file, identity) = job
    if _worker_connection is None:
        _worker_connection = connect(url)
    return ingest_one(_worker_connection, file, identity)


def ingest_one(
    conn: psycopg.Connection, file: InboxFile, identity: tuple[str, int] | None = None
) -> FileResult:
    """Load one file; every failure but the warehouse's own becomes a result."""
    try:
        return load_file(conn, file, identity)
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

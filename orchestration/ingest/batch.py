"""Ingest many files: in groups, each group one transaction.

A group is loaded in one go, or else file by file (load.py). One file's
trouble never stops the others: it gets its result (rejected, retry), while
the rest of its group commits. A commit per file would cap ingest at a few
hundred files a second; a group of a few megabytes makes the commit's cost a
small share of the load. Nor does a group's commit wait for the disk: the
next group loads while the server flushes, and the run waits once, at its
end, until all of it is on disk (make_durable). A crash can take back the
last groups whole, ledger rows with their listings, and the next run loads
their files again.

Only the warehouse itself failing (connection lost, server down) ends a run
early: groups committed before that stay committed, and the next run goes on
where this one stopped.

Big batches are shared between this process and worker processes, each with
its own connection: with one connection the client waits for the server
(COPY, commit) about half the time, and a second one parses meanwhile. The
ledger's unique index settles two ingesters meeting the same bytes: the
second waits for the first's commit and finds the row.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path

import psycopg

from orchestration.ingest import ledger
from orchestration.ingest.inbox import InboxFile, Skipped, scan
from orchestration.ingest.ledger import Outcome
from orchestration.ingest.load import FileResult, load_group
from orchestration.warehouse import connect
from orchestration.workers import map_shared

# A worker process takes a fifth of a second of CPU to start: only worth it for many files.
PARALLEL_MIN_FILES = 16
DEFAULT_WORKERS = min(os.cpu_count() or 1, 4)
# A group closes at this many bytes or files: about 5,000 listings of a typical
# page, so the commit costs little, while a crash redoes at most that much.
GROUP_BYTES = 4 * 1024 * 1024
GROUP_FILES = 64


@dataclass
class IngestReport:
    results: list[FileResult] = field(default_factory=list)
    not_ready: list[Skipped] = field(default_factory=list)

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
    report = IngestReport(not_ready=found.not_ready)
    # paths with no file to read: reported, never counted as files in progress
    report.results.extend(
        FileResult(path.path, Outcome.REJECTED, message=path.reason) for path in found.unreadable
    )
    if on_start is not None:
        on_start(found.files)
    unchanged, new = _sort_out_unchanged(url, found.files)
    for result in chain(unchanged, _ingest_files(url, new, workers)):
        report.results.append(result)
        if on_file is not None:
            on_file(result)
    return report


def _sort_out_unchanged(
    url: str, files: list[InboxFile]
) -> tuple[list[FileResult], list[InboxFile]]:
    """Files ingested before under the same name, size and modification time, found with one query.

    An inbox keeps every file it ever received: without this, each run would
    read every old file again just to learn it is known, a cost that grows
    with the warehouse rather than with what is new. A file whose name, size
    and modification time match its ledger row is not even read (the rule of
    make and rsync); any other file is read and known by its SHA-256, in the
    workers (load.load_file).
    """
    with connect(url) as conn:
        by_stat = {
            (file_name, name_bytes, size_bytes, modified_at): file_id
            for file_name, name_bytes, size_bytes, modified_at, file_id in conn.execute(
                "select file_name, file_name_bytes, size_bytes, modified_at, coalesce(duplicate_of, file_id) "
                "from raw.ingested_files where file_name = any(%s) and modified_at is not null",
                [[file.name for file in files]],
            )
        }
    unchanged: list[FileResult] = []
    new: list[InboxFile] = []
    for file in files:
        file_id = by_stat.get((file.name, file.name_bytes, file.size, file.modified_at))
        if file_id is None:
            new.append(file)
        else:
            unchanged.append(FileResult(file.path, Outcome.UNCHANGED, file_id=file_id))
    return unchanged, new


def group_files(files: list[InboxFile]) -> list[list[InboxFile]]:
    """Split new files, in order, into transaction groups of about GROUP_BYTES.

    Claiming a file's bytes locks them in the ledger's unique index until its
    group commits. Copies of the same bytes have the same size, and all files
    of one size go in one group, so no two groups of one run ever wait on
    each other. (Their bytes are not known yet: each file is hashed once, by
    the worker that loads it.)
    """
    by_size: dict[int, list[InboxFile]] = {}
    for file in files:
        by_size.setdefault(file.size, []).append(file)
    groups: list[list[InboxFile]] = []
    group: list[InboxFile] = []
    group_bytes = 0
    for same_size in by_size.values():
        group.extend(same_size)
        group_bytes += sum(file.size for file in same_size)
        if group_bytes >= GROUP_BYTES or len(group) >= GROUP_FILES:
            groups.append(group)
            group, group_bytes = [], 0
    if group:
        groups.append(group)
    return groups


def _ingest_files(url: str, files: list[InboxFile], workers: int) -> Iterator[FileResult]:
    groups = group_files(files)
    if not groups:
        return
    if len(files) < PARALLEL_MIN_FILES or len(groups) < 2:
        workers = 1
    with connect(url) as conn:
        for results in map_shared(
            [(url, group) for group in groups],
            lambda job: ingest_group(conn, job[1]),
            _ingest_in_worker,
            workers,
        ):
            yield from results
        make_durable(conn)


def make_durable(conn: psycopg.Connection) -> None:
    """Return once every group committed so far, by any connection, is on disk.

    A transaction that writes WAL and commits synchronously returns once the
    WAL up to its commit is flushed, and the WAL is one stream: that flushes
    every earlier commit with it. Its write is a message in the WAL itself
    (no table changes); a transaction that writes no WAL would commit without
    waiting for the disk.
    """
    with conn.transaction():
        conn.execute("select pg_logical_emit_message(true, 'paperhouse', 'ingested')")


# A worker process's connection, opened by its first group.
_worker_connection: psycopg.Connection | None = None


def _ingest_in_worker(job: tuple[str, list[InboxFile]]) -> list[FileResult]:
    global _worker_connection
    url, group = job
    if _worker_connection is None:
        _worker_connection = connect(url)
    return ingest_group(_worker_connection, group)


def ingest_group(conn: psycopg.Connection, group: list[InboxFile]) -> list[FileResult]:
    """Ingest files in one transaction (load.load_group); its files are numbered last, then it
    commits without waiting for the disk (the run's make_durable waits for every group at once)."""
    with conn.transaction():
        conn.execute("set local synchronous_commit = off")
        results = load_group(conn, group)
        ledger.number_in_commit_order(conn)
    return results

"""raw.ingested_files, the ledger of files: the one place that knows file statuses and identity.

A file's identity is the SHA-256 of its bytes. The partial unique index on
sha256 is what makes ingestion exactly-once: a second ingester inserting the
same bytes waits for the first one's transaction and then finds the row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import NamedTuple

import psycopg


class FileStatus(StrEnum):
    LOADED = "loaded"  # its listings are in raw.paper_listings
    DUPLICATE = "duplicate"  # the same bytes as an earlier file, under another name
    EMPTY = "empty"  # nothing to read
    REJECTED = "rejected"  # not a listing file; `error` says why


@dataclass(frozen=True)
class KnownFile:
    file_id: int
    file_name: str
    file_name_bytes: bytes | None  # see FileRow


@dataclass(frozen=True)
class Claim:
    """The outcome of claiming a file's bytes: a new file_id, or the file that has them already."""

    file_id: int | None
    known: KnownFile | None


class FileRow(NamedTuple):
    """A file as the ledger records it, in the order CLAIM takes these values."""

    file_name: str  # as text (inbox.as_text)
    file_name_bytes: bytes | None  # the name's bytes when they are not UTF-8
    sha256: str
    size_bytes: int
    modified_at: datetime
    parser_version: int


CLAIM = """
insert into raw.ingested_files
    (file_name, file_name_bytes, sha256, size_bytes, modified_at, status, parser_version)
values (%s, %s, %s, %s, %s, 'loaded', %s)
on conflict (sha256) where status <> 'duplicate' do nothing
returning file_id
"""

FINISH = """
update raw.ingested_files
set status = %s, listing_count = %s, error = %s, layout = %s, encoding = %s, scraped_on = %s
where file_id = %s
"""


@dataclass(frozen=True)
class Settlement:
    """What a file's ledger row is settled with once its listings are loaded."""

    status: FileStatus
    listing_count: int
    error: str | None
    layout: str | None
    encoding: str | None
    scraped_on: date | None

    def params(self, file_id: int) -> tuple:
        return (
            self.status.value,
            self.listing_count,
            self.error,
            self.layout,
            self.encoding,
            self.scraped_on,
            file_id,
        )


def claim(conn: psycopg.Connection, file: FileRow) -> Claim:
    """Insert the ledger row for new bytes, inside the caller's transaction.

    The row starts as `loaded` with no listings and is settled by `finish()`
    before the transaction commits, so no other session ever sees it half-done.
    """
    row = conn.execute(CLAIM, file).fetchone()
    if row is not None:
        return Claim(file_id=row[0], known=None)
    known = conn.execute(
        "select file_id, file_name, file_name_bytes from raw.ingested_files "
        "where sha256 = %s and status <> 'duplicate'",
        [file.sha256],
    ).fetchone()
    assert known is not None, "the conflicting row is committed, so it is visible"
    return Claim(file_id=None, known=KnownFile(*known))


def record_duplicate(conn: psycopg.Connection, file: FileRow, original: KnownFile) -> bool:
    """Record `file` as a copy of `original`; False when that name was recorded before."""
    row = conn.execute(
        """
        insert into raw.ingested_files
            (file_name, file_name_bytes, sha256, size_bytes, modified_at, status, parser_version,
             duplicate_of, error)
        values (%s, %s, %s, %s, %s, 'duplicate', %s, %s, %s)
        on conflict (sha256, file_name, file_name_bytes) where status = 'duplicate' do nothing
        returning file_id
        """,
        [
            *file,
            original.file_id,
            f"the same bytes as {original.file_name}",  # duplicate_of names the file
        ],
    ).fetchone()
    return row is not None


def claim_many(conn: psycopg.Connection, files: list[FileRow]) -> list[int | None]:
    """claim() for many files of distinct bytes in one round trip: each its new file_id, or None
    where the bytes are known.
    """
    with conn.cursor() as cursor:
        cursor.executemany(CLAIM, files, returning=True)
        file_ids: list[int | None] = []
        while True:
            row = cursor.fetchone()
            file_ids.append(row[0] if row else None)
            if not cursor.nextset():
                return file_ids


def finish(conn: psycopg.Connection, file_id: int, settlement: Settlement) -> None:
    conn.execute(FINISH, settlement.params(file_id))


def finish_many(conn: psycopg.Connection, settlements: list[tuple[int, Settlement]]) -> None:
    """finish() for many files in one round trip."""
    with conn.cursor() as cursor:
        cursor.executemany(
            FINISH, [settlement.params(file_id) for file_id, settlement in settlements]
        )


# Held from numbering files until their transaction commits, so that
# ingest_seq order is commit order (see raw.ingested_files.ingest_seq).
COMMIT_ORDER_LOCK_KEY = 0x7061_7065_7273_6571  # "paperseq"


def number_in_commit_order(conn: psycopg.Connection) -> None:
    """Number the rows this transaction recorded; call last, just before it commits.

    The rows without an ingest_seq are this transaction's own (migration 007
    explains why), numbered in name order. ingest_seq is the marts'
    watermark only: what a paper shows follows the order its pages were
    scraped (dim_papers), never the order they were ingested in. The lock
    is taken here rather than at the first file, so concurrent ingesters
    wait on each other only for this statement and the commit.
    """
    conn.execute("select pg_advisory_xact_lock(%s)", [COMMIT_ORDER_LOCK_KEY])
    conn.execute(
        """
        with numbered as (
            select file_id, nextval('raw.ingest_seq_seq') as ingest_seq
            from (
                select file_id from raw.ingested_files
                where ingest_seq is null
                order by file_name, file_name_bytes, file_id
            ) as own
        )
        update raw.ingested_files as f set ingest_seq = numbered.ingest_seq
        from numbered where f.file_id = numbered.file_id
        """
    )

"""raw.ingested_files, the ledger of files: the one place that knows file statuses and identity.

A file's identity is the SHA-256 of its bytes. The partial unique index on
sha256 is what makes ingestion exactly-once: a second ingester inserting the
same bytes waits for the first one's transaction and then finds the row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum

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


@dataclass(frozen=True)
class Claim:
    """The outcome of claiming a file's bytes: a new file_id, or the file that has them already."""

    file_id: int | None
    known: KnownFile | None


def claim(
    conn: psycopg.Connection,
    *,
    file_name: str,
    sha256: str,
    size_bytes: int,
    modified_at: datetime,
    parser_version: int,
) -> Claim:
    """Insert the ledger row for new bytes, inside the caller's transaction.

    The row starts as `loaded` with no listings and is settled by `finish()`
    before the transaction commits, so no other session ever sees it half-done.
    """
    row = conn.execute(
        """
        insert into raw.ingested_files (file_name, sha256, size_bytes, modified_at, status, parser_version)
        values (%s, %s, %s, %s, 'loaded', %s)
        on conflict (sha256) where status <> 'duplicate' do nothing
        returning file_id
        """,
        [file_name, sha256, size_bytes, modified_at, parser_version],
    ).fetchone()
    if row is not None:
        return Claim(file_id=row[0], known=None)
    known = conn.execute(
        "select file_id, file_name from raw.ingested_files where sha256 = %s and status <> 'duplicate'",
        [sha256],
    ).fetchone()
    assert known is not None, "the conflicting row is committed, so it is visible"
    return Claim(file_id=None, known=KnownFile(*known))


def record_duplicate(
    conn: psycopg.Connection,
    *,
    file_name: str,
    sha256: str,
    size_bytes: int,
    modified_at: datetime,
    parser_version: int,
    original: KnownFile,
) -> bool:
    """Record `file_name` as a copy of `original`; False when that name was recorded before."""
    row = conn.execute(
        """
        insert into raw.ingested_files
            (file_name, sha256, size_bytes, modified_at, status, parser_version, duplicate_of, error)
        values (%s, %s, %s, %s, 'duplicate', %s, %s, %s)
        on conflict (sha256, file_name) where status = 'duplicate' do nothing
        returning file_id
        """,
        [
            file_name,
            sha256,
            size_bytes,
            modified_at,
            parser_version,
            original.file_id,
            f"the same bytes as {original.file_name} (file_id {original.file_id})",
        ],
    ).fetchone()
    if row is None:
        return False
    _take_ingest_seq(conn, row[0])
    return True


# Held from numbering a file until its transaction commits, so that
# ingest_seq order is commit order (see raw.ingested_files.ingest_seq).
COMMIT_ORDER_LOCK_KEY = 0x7061_7065_7273_6571  # "paperseq"


def _take_ingest_seq(conn: psycopg.Connection, file_id: int) -> None:
    """Number the file in commit order; call last in the transaction, just before it commits."""
    conn.execute("select pg_advisory_xact_lock(%s)", [COMMIT_ORDER_LOCK_KEY])
    conn.execute(
        "update raw.ingested_files set ingest_seq = nextval('raw.ingest_seq_seq') where file_id = %s",
        [file_id],
    )


def finish(
    conn: psycopg.Connection,
    file_id: int,
    *,
    status: FileStatus,
    listing_count: int,
    error: str | None,
    layout: str | None,
    encoding: str | None,
    scraped_on: date | None,
) -> None:
    conn.execute(
        """
        update raw.ingested_files
        set status = %s, listing_count = %s, error = %s, layout = %s, encoding = %s, scraped_on = %s
        where file_id = %s
        """,
        [status.value, listing_count, error, layout, encoding, scraped_on, file_id],
    )
    _take_ingest_seq(conn, file_id)

"""raw.ingested_files, the ledger of files: the one place that knows what became of a file.

A file's identity is the SHA-256 of its bytes. The partial unique index on
sha256 is what makes ingestion exactly-once: a second ingester registering
the same bytes waits for the first one's transaction and then finds the row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import NamedTuple

import psycopg


class Outcome(StrEnum):
    """What became of a file in a run. The first four are recorded as its status in the ledger;
    the last two are not recorded (the next run sees the file as it is then)."""

    LOADED = "loaded"  # its listings are in raw.paper_listings
    DUPLICATE = "duplicate"  # the same bytes as an earlier file, under another name
    EMPTY = "empty"  # nothing to read
    # not a listing file (recorded, with the reason), or no file to read: a
    # broken or outward link, not a regular file, unreadable (not recorded:
    # without bytes it has no identity)
    REJECTED = "rejected"
    UNCHANGED = "unchanged"  # these bytes under this name were ingested before
    RETRY = "retry"  # changed while read, or a paperhouse bug: the next run tries again


# The statuses the ledger records, in the order reports list them.
RECORDED = (Outcome.LOADED, Outcome.DUPLICATE, Outcome.EMPTY, Outcome.REJECTED)


class LedgerEntry(NamedTuple):
    """A file as the ledger first records it, in the order REGISTER takes these values."""

    file_name: str  # as text (inbox.as_text)
    file_name_bytes: bytes | None  # the name's bytes when they are not UTF-8
    sha256: str
    size_bytes: int
    modified_at: datetime
    parser_version: int


@dataclass(frozen=True)
class Original:
    """The file that holds some bytes already: a later file with them is a duplicate of it."""

    file_id: int
    file_name: str
    file_name_bytes: bytes | None


@dataclass(frozen=True)
class Registration:
    """A file's bytes registered: a new file_id for new bytes, or the original that has them."""

    file_id: int | None
    original: Original | None


@dataclass(frozen=True)
class Findings:
    """What reading a file found, recorded in its ledger row."""

    status: Outcome  # one of RECORDED
    listing_count: int
    error: str | None  # the reason for a rejection, else warnings, one a line
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


def rejected(reason: str) -> Findings:
    return Findings(Outcome.REJECTED, 0, reason, layout=None, encoding=None, scraped_on=None)


REGISTER = """
insert into raw.ingested_files
    (file_name, file_name_bytes, sha256, size_bytes, modified_at, status, parser_version)
values (%s, %s, %s, %s, %s, 'loaded', %s)
on conflict (sha256) where status <> 'duplicate' do nothing
returning file_id
"""

RECORD_FINDINGS = """
update raw.ingested_files
set status = %s, listing_count = %s, error = %s, layout = %s, encoding = %s, scraped_on = %s
where file_id = %s
"""


def register(conn: psycopg.Connection, entry: LedgerEntry) -> Registration:
    """Insert the ledger row for new bytes, inside the caller's transaction; or find their original.

    A new row starts as `loaded` with no listings, and its findings are
    recorded before the transaction commits, so no other session ever sees
    it half-done.
    """
    row = conn.execute(REGISTER, entry).fetchone()
    if row is not None:
        return Registration(file_id=row[0], original=None)
    original = conn.execute(
        "select file_id, file_name, file_name_bytes from raw.ingested_files "
        "where sha256 = %s and status <> 'duplicate'",
        [entry.sha256],
    ).fetchone()
    assert original is not None, "the conflicting row is committed, so it is visible"
    return Registration(file_id=None, original=Original(*original))


def register_many(conn: psycopg.Connection, entries: list[LedgerEntry]) -> list[int | None]:
    """register() for many files of distinct bytes in one round trip: each its new file_id, or None
    where the bytes have an original.
    """
    with conn.cursor() as cursor:
        cursor.executemany(REGISTER, entries, returning=True)
        file_ids: list[int | None] = []
        while True:
            row = cursor.fetchone()
            file_ids.append(row[0] if row else None)
            if not cursor.nextset():
                return file_ids


def record_duplicate(conn: psycopg.Connection, entry: LedgerEntry, original: Original) -> bool:
    """Record `entry` as a copy of `original`; False when that name was recorded before."""
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
            *entry,
            original.file_id,
            f"the same bytes as {original.file_name}",  # duplicate_of names the file
        ],
    ).fetchone()
    return row is not None


def record_findings(conn: psycopg.Connection, file_id: int, findings: Findings) -> None:
    conn.execute(RECORD_FINDINGS, findings.params(file_id))


def record_findings_many(conn: psycopg.Connection, findings: list[tuple[int, Findings]]) -> None:
    """record_findings() for many files in one round trip."""
    with conn.cursor() as cursor:
        cursor.executemany(RECORD_FINDINGS, [found.params(file_id) for file_id, found in findings])


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

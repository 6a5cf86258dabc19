"""Load one file: its ledger row and its listings all or nothing, listings by COPY.

The file is read twice: once to learn its identity (SHA-256) so that known
bytes cost no parsing, and once to parse and load, hashing again on the way;
if the two hashes differ the file changed while being read, and everything
the file wrote is rolled back for the next run to try again.

A file's work is a savepoint inside the caller's transaction (batch.py
commits a group of files at once), so it can be undone alone.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import BinaryIO

import psycopg

from orchestration.ingest import ledger
from orchestration.ingest.decode import UnrecognizedContent, decode_lines
from orchestration.ingest.inbox import InboxFile
from orchestration.ingest.ledger import FileStatus
from orchestration.ingest.notes import Notes
from orchestration.ingest.parse import PARSER_VERSION, Listing, ListingParser

READ_CHUNK = 1024 * 1024

COPY_LISTINGS = """
copy raw.paper_listings (
    file_id, position, line_number, title, abstract,
    authors_count, organization, published_text, published_on, upvotes
) from stdin
"""


class Outcome(StrEnum):
    """What one run did with one file: a ledger status, or why nothing was recorded."""

    LOADED = FileStatus.LOADED.value
    DUPLICATE = FileStatus.DUPLICATE.value
    EMPTY = FileStatus.EMPTY.value
    # not a listing file (recorded), or no file to read: unreadable, a broken
    # link, not a regular file (not recorded: without bytes it has no identity)
    REJECTED = FileStatus.REJECTED.value
    UNCHANGED = "unchanged"  # these bytes under this name were ingested before
    RETRY = "retry"  # not recorded this run (changed while read, a paperhouse bug); the next run tries again


@dataclass(frozen=True)
class FileResult:
    path: Path
    outcome: Outcome
    listing_count: int = 0
    file_id: int | None = None
    message: str | None = None  # the reason for a rejection or retry, else warnings


class FileChanged(RuntimeError):
    pass


def fingerprint(path: Path) -> tuple[str, int]:
    """SHA-256 (hex) and size of a file's bytes."""
    with open(path, "rb") as stream:
        digest = hashlib.file_digest(stream, "sha256")
        return digest.hexdigest(), stream.tell()


def load_file(
    conn: psycopg.Connection, file: InboxFile, identity: tuple[str, int] | None = None
) -> FileResult:
    """Ingest one file exactly once, inside the caller's transaction (ledger.number_in_commit_order
    must run before it commits); an exception undoes this file's work and nothing else.

    `identity` is the file's (SHA-256, size) when the caller has just read it;
    the load verifies it anyway, as it hashes the bytes it parses.
    """
    sha256, size = identity or fingerprint(file.path)
    with conn.transaction():
        claim = ledger.claim(
            conn,
            file_name=file.name,
            sha256=sha256,
            size_bytes=size,
            modified_at=file.modified_at,
            parser_version=PARSER_VERSION,
        )
        if claim.file_id is None:
            assert claim.known is not None
            return _already_known(conn, file, sha256, size, claim.known)
        return parse_and_copy(conn, claim.file_id, file, sha256, size)


def _already_known(
    conn: psycopg.Connection, file: InboxFile, sha256: str, size: int, known: ledger.KnownFile
) -> FileResult:
    if known.file_name == file.name:
        return FileResult(file.path, Outcome.UNCHANGED, file_id=known.file_id)
    recorded = ledger.record_duplicate(
        conn,
        file_name=file.name,
        sha256=sha256,
        size_bytes=size,
        modified_at=file.modified_at,
        parser_version=PARSER_VERSION,
        original=known,
    )
    if not recorded:
        return FileResult(file.path, Outcome.UNCHANGED, file_id=known.file_id)
    return FileResult(
        file.path, Outcome.DUPLICATE, file_id=known.file_id, message=f"the same bytes as {known.file_name}"
    )


def parse_and_copy(
    conn: psycopg.Connection, file_id: int, file: InboxFile, sha256: str, size: int
) -> FileResult:
    notes = Notes()
    parser = ListingParser(modified_on=datetime.fromtimestamp(file.mtime).date(), notes=notes)
    encoding: str | None = None
    rejection: str | None = None
    count = 0
    with open(file.path, "rb") as raw:
        hashing = HashingReader(raw)
        try:
            # A savepoint: a rejected file keeps its ledger row but none of its listings.
            with conn.transaction():
                decoded = decode_lines(io.BufferedReader(hashing, READ_CHUNK), notes)
                count = copy_listings(conn, file_id, parser.parse(decoded.batches))
                encoding = decoded.encoding
        except UnrecognizedContent as exc:
            rejection = str(exc)
        except psycopg.DataError as exc:
            rejection = f"a value the warehouse cannot store: {exc}"
        # Raises FileChanged, rolling back the file's savepoint, ledger row included.
        hashing.verify(sha256, size)

    if rejection is not None:
        status, count, error = FileStatus.REJECTED, 0, rejection
    elif count == 0:
        status, error = FileStatus.EMPTY, notes.render()
        if parser.has_content and error is None:
            error = "no listings after the page header"
    else:
        status, error = FileStatus.LOADED, notes.render()
    ledger.finish(
        conn,
        file_id,
        status=status,
        listing_count=count,
        error=error,
        layout=parser.layout.value if parser.layout else None,
        encoding=encoding,
        scraped_on=parser.scraped_on if count else None,
    )
    return FileResult(file.path, Outcome(status.value), listing_count=count, file_id=file_id, message=error)


def copy_listings(conn: psycopg.Connection, file_id: int, listings: Iterable[Listing]) -> int:
    count = 0
    with conn.cursor() as cursor, cursor.copy(COPY_LISTINGS) as copy:
        for listing in listings:
            copy.write_row(
                (
                    file_id,
                    listing.position,
                    listing.line_number,
                    listing.title,
                    listing.abstract,
                    listing.authors_count,
                    listing.organization,
                    listing.published_text,
                    listing.published_on,
                    listing.upvotes,
                )
            )
            count += 1
    return count


class HashingReader(io.RawIOBase):
    """A read-only view of a binary file that hashes what is read from its start."""

    def __init__(self, raw: BinaryIO) -> None:
        self._raw = raw
        self._digest = hashlib.sha256()
        self._bytes = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if (offset, whence) != (0, io.SEEK_SET):
            raise io.UnsupportedOperation("HashingReader can only rewind")
        self._raw.seek(0)
        self._digest = hashlib.sha256()
        self._bytes = 0
        return 0

    def tell(self) -> int:
        return self._bytes

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        n = self._raw.readinto(buffer)  # type: ignore[attr-defined]
        if n:
            self._digest.update(memoryview(buffer)[:n])
            self._bytes += n
        return n or 0

    def verify(self, sha256: str, size: int) -> None:
        """Read to the end, then check the bytes are the ones the ledger row was claimed for."""
        buffer = bytearray(READ_CHUNK)
        while self.readinto(buffer):
            pass
        if self._digest.hexdigest() != sha256 or self._bytes != size:
            raise FileChanged("the file changed while it was being read")

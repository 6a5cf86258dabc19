"""Load one file: its ledger row and its listings all or nothing, listings by COPY.

A file's identity is the SHA-256 of its bytes, learnt before anything is
parsed so that known bytes cost no parsing. A file of up to WHOLE_FILE_BYTES
is read once, into memory: what is parsed is what was hashed. A bigger one
is read twice, to stay in bounded memory: hashed, then parsed while hashed
again; if the two hashes differ the file changed while being read, and
everything the file wrote is rolled back for the next run to try again.

A file's work is a savepoint inside the caller's transaction (batch.py
commits a group of files at once), so it can be undone alone. A file that is
no listing file is known before its first listing is written, and recorded
as rejected; one whose value the server refuses is rolled back, then
recorded as rejected in a savepoint of its own (a second savepoint around
every file's COPY, only for that rare case, cost more than its parsing).
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import BinaryIO

import psycopg

from orchestration.ingest import ledger
from orchestration.ingest.decode import UnrecognizedContent, decode_lines
from orchestration.ingest.inbox import InboxFile, as_text
from orchestration.ingest.ledger import FileStatus
from orchestration.ingest.notes import Notes
from orchestration.ingest.parse import PARSER_VERSION, Listing, ListingParser
from orchestration.warehouse import first_line

READ_CHUNK = 1024 * 1024
# Listing pages run to a few hundred kB; a file above this size is streamed.
WHOLE_FILE_BYTES = 16 * 1024 * 1024

# The columns ingest fills, in the order each row is written: the file, then a Listing's fields.
LISTING_COLUMNS = ", ".join(("file_id", *Listing._fields))
COPY_LISTINGS = f"copy raw.paper_listings ({LISTING_COLUMNS}) from stdin"


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

    @property
    def name(self) -> str:
        """The file's name as text that can be shown anywhere (inbox.as_text)."""
        return as_text(self.path.name)

    @property
    def shown_path(self) -> str:
        return as_text(str(self.path))


class FileChanged(RuntimeError):
    pass


class FileRejected(Exception):
    """The server refused one of the file's values; str() is the reason."""


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

    `identity` is the file's (SHA-256, size) when the caller has read it; the
    file is then streamed and its bytes checked against it as they are parsed.
    """
    data = None
    if identity is None:
        data = read_if_small(file)
        identity = (
            fingerprint(file.path)
            if data is None
            else (hashlib.sha256(data).hexdigest(), len(data))
        )
    sha256, size = identity
    try:
        with conn.transaction():
            claim = claim_file(conn, file, sha256, size)
            if claim.file_id is None:
                assert claim.known is not None
                return already_known(conn, file, sha256, size, claim.known)
            return parse_and_copy(conn, claim.file_id, file, sha256, size, data)
    except FileRejected as rejection:
        # The file's savepoint is rolled back, listings and ledger row alike.
        with conn.transaction():
            claim = claim_file(conn, file, sha256, size)
            if claim.file_id is None:  # another ingester claimed the bytes meanwhile
                assert claim.known is not None
                return already_known(conn, file, sha256, size, claim.known)
            return record_rejection(conn, claim.file_id, file, str(rejection))


def read_if_small(file: InboxFile) -> bytes | None:
    """The file's bytes when it holds at most WHOLE_FILE_BYTES, else None."""
    if file.size > WHOLE_FILE_BYTES:
        return None
    with open(file.path, "rb") as stream:
        data = stream.read(WHOLE_FILE_BYTES + 1)  # it may have grown since it was listed
    return data if len(data) <= WHOLE_FILE_BYTES else None


def claim_file(conn: psycopg.Connection, file: InboxFile, sha256: str, size: int) -> ledger.Claim:
    return ledger.claim(conn, ledger_row(file, sha256, size))


def ledger_row(file: InboxFile, sha256: str, size: int) -> ledger.FileRow:
    return ledger.FileRow(
        file.name, file.name_bytes, sha256, size, file.modified_at, PARSER_VERSION
    )


def record_rejection(
    conn: psycopg.Connection, file_id: int, file: InboxFile, reason: str
) -> FileResult:
    ledger.finish(conn, file_id, rejected(reason))
    return FileResult(file.path, Outcome.REJECTED, file_id=file_id, message=reason)


def rejected(reason: str) -> ledger.Settlement:
    return ledger.Settlement(
        FileStatus.REJECTED, 0, reason, layout=None, encoding=None, scraped_on=None
    )


def already_known(
    conn: psycopg.Connection, file: InboxFile, sha256: str, size: int, known: ledger.KnownFile
) -> FileResult:
    if (known.file_name, known.file_name_bytes) == (file.name, file.name_bytes):
        return FileResult(file.path, Outcome.UNCHANGED, file_id=known.file_id)
    recorded = ledger.record_duplicate(conn, ledger_row(file, sha256, size), original=known)
    if not recorded:
        return FileResult(file.path, Outcome.UNCHANGED, file_id=known.file_id)
    return FileResult(
        file.path,
        Outcome.DUPLICATE,
        file_id=known.file_id,
        message=f"the same bytes as {known.file_name}",
    )


def parse_and_copy(
    conn: psycopg.Connection,
    file_id: int,
    file: InboxFile,
    sha256: str,
    size: int,
    data: bytes | None = None,
) -> FileResult:
    """Parse the file (`data`, its bytes, or read from disk) and COPY its listings, then settle its ledger row.

    Raises FileRejected when the server refuses a value, and FileChanged when
    its bytes are not the ones claimed: either way the caller rolls back
    what it wrote.
    """
    reading = FileReading(file)
    refused: psycopg.DataError | None = None
    with _claimed_bytes(file, sha256, size, data) as stream:
        try:
            with conn.cursor() as cursor, cursor.copy(COPY_LISTINGS) as copy:
                settlement = reading.copy_listings(stream, copy, file_id)
        except psycopg.DataError as exc:
            refused = exc
    if refused is not None:  # the server's error aborted the file's savepoint
        raise FileRejected(f"a value the warehouse cannot store: {first_line(refused)}")
    ledger.finish(conn, file_id, settlement)
    return reading.result(file_id, settlement)


class FileReading:
    """One file's decoding and parsing into a COPY, and what its ledger row is settled with."""

    def __init__(self, file: InboxFile) -> None:
        self.file = file
        self.notes = Notes()
        self.parser = ListingParser(
            modified_on=datetime.fromtimestamp(file.mtime).date(), notes=self.notes
        )

    def copy_listings(
        self, stream: BinaryIO, copy: psycopg.Copy, file_id: int
    ) -> ledger.Settlement:
        """Write the file's listings into `copy`; a file that is no listing file writes none."""
        count = 0
        try:
            decoded = decode_lines(stream, self.notes)
            for listing in self.parser.parse(decoded.batches):
                copy.write_row((file_id, *listing))
                count += 1
        except UnrecognizedContent as exc:
            # Raised before the first listing, if ever: the parser knows a page by its header.
            assert count == 0, "a file was rejected after some of its listings were written"
            return rejected(str(exc))
        return self.settlement(count, decoded.encoding)

    def settlement(self, count: int, encoding: str) -> ledger.Settlement:
        error = self.notes.render()
        if count == 0 and error is None and self.parser.has_content:
            error = "no listings after the page header"
        layout = self.parser.layout
        return ledger.Settlement(
            status=FileStatus.LOADED if count else FileStatus.EMPTY,
            listing_count=count,
            error=error,
            layout=layout.value if layout else None,
            encoding=encoding,
            scraped_on=self.parser.scraped_on if count else None,
        )

    def result(self, file_id: int, settlement: ledger.Settlement) -> FileResult:
        return FileResult(
            self.file.path,
            Outcome(settlement.status.value),
            listing_count=settlement.listing_count,
            file_id=file_id,
            message=settlement.error,
        )


@contextmanager
def _claimed_bytes(
    file: InboxFile, sha256: str, size: int, data: bytes | None
) -> Iterator[BinaryIO]:
    """The bytes the ledger row was claimed for: `data`, or the file read again and
    checked against them once read (FileChanged), even when what was read was no listing file.
    """
    if data is not None:
        yield io.BytesIO(data)
        return
    with open(file.path, "rb") as raw:
        hashing = HashingReader(raw)
        yield io.BufferedReader(hashing, READ_CHUNK)
        hashing.verify(sha256, size)


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

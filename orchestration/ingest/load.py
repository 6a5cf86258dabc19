"""Load a group of files into the raw tables, in the caller's transaction: in one go, or else
file by file.

In one go: every file read into memory and hashed, one round trip to
register their bytes in the ledger, one COPY of all their listings, one
round trip to record what each held. For files of a few hundred listings
the round trips of a file-by-file load would cost about as much as a tenth
of all ingest work, and on the common path nothing about a file needs
undoing: a file that is no listing file is known before its first listing
is written, and known bytes are known when registered.

File by file, the one fallback: anything unusual in one go (a file too big
to hold, a read error, a value the server refuses, a deadlock with another
ingester) rolls that attempt back, and each file is loaded in a savepoint
of its own, so that one file's trouble rolls back alone and becomes its
result. A file of up to WHOLE_FILE_BYTES is read once, into memory: what is
parsed is what was hashed. A bigger one is read twice, in bounded memory:
hashed, then parsed while hashed again; if the two hashes differ, the file
changed while being read and is left for the next run.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

import psycopg

from orchestration.ingest import ledger
from orchestration.ingest.decode import UnrecognizedContent, decode_lines
from orchestration.ingest.inbox import InboxFile, as_text
from orchestration.ingest.ledger import Findings, LedgerEntry, Original, Outcome
from orchestration.ingest.listing_copy import ListingCopy, listing_copy
from orchestration.ingest.notes import Notes
from orchestration.ingest.parse import PARSER_VERSION, ListingParser
from orchestration.warehouse import WarehouseUnavailable, first_line

READ_CHUNK = 1024 * 1024
# Listing pages run to a few hundred kB; a file above this size is streamed.
WHOLE_FILE_BYTES = 16 * 1024 * 1024
# A group of many files of one size can grow past batch.GROUP_BYTES; past
# this much it goes file by file, which holds one file at a time.
MAX_GROUP_BYTES = 64 * 1024 * 1024


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


class FileChanged(RuntimeError):
    pass


class ValueRefused(Exception):
    """The server refused one of the file's values; str() is the reason."""


class NotInOneGo(Exception):
    """The group must be loaded file by file."""


def load_group(conn: psycopg.Connection, files: list[InboxFile]) -> list[FileResult]:
    """Load `files` in the caller's transaction, results in their order: in one go, or if anything
    in that fails, file by file (ledger.number_in_commit_order must run before it commits)."""
    try:
        with conn.transaction():
            return _in_one_go(conn, files)
    except Exception:
        return [load_one(conn, file) for file in files]


def _in_one_go(conn: psycopg.Connection, files: list[InboxFile]) -> list[FileResult]:
    if sum(file.size for file in files) > MAX_GROUP_BYTES:
        raise NotInOneGo("too many bytes to hold at once")
    contents = []
    for file in files:
        data = read_if_small(file)
        if data is None:
            raise NotInOneGo(f"{file.name} is too big to hold")
        contents.append(data)
    entries = [
        ledger_entry(file, hashlib.sha256(data).hexdigest(), len(data))
        for file, data in zip(files, contents, strict=True)
    ]

    # The first file with some bytes registers them; its copies are settled below, as duplicates.
    first_with: dict[str, int] = {}
    for index, entry in enumerate(entries):
        first_with.setdefault(entry.sha256, index)
    file_ids = ledger.register_many(conn, [entries[index] for index in first_with.values()])
    new = {
        index: file_id
        for index, file_id in zip(first_with.values(), file_ids, strict=True)
        if file_id is not None
    }

    results: dict[int, FileResult] = {}
    findings: list[tuple[int, Findings]] = []
    with conn.cursor() as cursor, listing_copy(cursor) as copy:
        for index, file_id in new.items():
            reader = FileReader(files[index])
            found = reader.copy_listings(contents[index], copy, file_id)
            findings.append((file_id, found))
            results[index] = reader.result(file_id, found)
    ledger.record_findings_many(conn, findings)

    for index, file in enumerate(files):
        if index in results:
            continue
        registration = ledger.register(conn, entries[index])
        if registration.original is None:  # their registrant rolled back
            raise NotInOneGo(f"the bytes of {file.name} are no longer known")
        results[index] = settle_known_bytes(conn, file, entries[index], registration.original)
    return [results[index] for index in range(len(files))]


def load_one(
    conn: psycopg.Connection, file: InboxFile, identity: tuple[str, int] | None = None
) -> FileResult:
    """Load one file in a savepoint of the caller's transaction; every failure but the warehouse's
    own becomes the file's result, and undoes this file's work and nothing else.

    `identity` is the file's (SHA-256, size) when the caller has read it; the
    file is then streamed and its bytes checked against it as they are parsed.
    """
    try:
        return _load_one(conn, file, identity)
    except FileChanged:
        return FileResult(
            file.path,
            Outcome.RETRY,
            message="changed while it was being read; the next run reads it again",
        )
    except psycopg.errors.DeadlockDetected:
        # Registering bytes locks them until the group commits. Two ingest
        # processes whose groups hold the same bytes in opposite orders (files
        # that arrived between their scans) deadlock; the server picks one
        # file to give up, and its savepoint is rolled back, locks included.
        return FileResult(
            file.path,
            Outcome.RETRY,
            message="another ingest was loading the same bytes; the next run reads it",
        )
    except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
        # The warehouse is gone: stop the run. This file's group died with
        # the connection; groups committed before it stay committed.
        raise WarehouseUnavailable(
            f"lost the warehouse while ingesting {file.name}: {first_line(exc)}\n"
            "files committed before it are kept; run again once the warehouse is back"
        ) from exc
    except OSError as exc:
        # Nothing recorded: without bytes there is no identity, and the next
        # run tries again (permissions fixed, disk back).
        return FileResult(
            file.path, Outcome.REJECTED, message=f"cannot be read: {exc.strerror or exc}"
        )
    except Exception as exc:
        # Not recorded as rejected: the file may be fine and paperhouse at
        # fault; rolled back, it is tried again on every run until fixed.
        return FileResult(
            file.path,
            Outcome.RETRY,
            message=f"paperhouse failed on this file ({type(exc).__name__}: {exc}); please report it",
        )


def _load_one(
    conn: psycopg.Connection, file: InboxFile, identity: tuple[str, int] | None
) -> FileResult:
    data = None
    if identity is None:
        data = read_if_small(file)
        identity = (
            fingerprint(file.path)
            if data is None
            else (hashlib.sha256(data).hexdigest(), len(data))
        )
    entry = ledger_entry(file, *identity)
    try:
        with conn.transaction():
            registration = ledger.register(conn, entry)
            if registration.original is not None:
                return settle_known_bytes(conn, file, entry, registration.original)
            assert registration.file_id is not None
            return copy_file(conn, registration.file_id, file, entry, data)
    except ValueRefused as refusal:
        # The file's savepoint is rolled back, listings and ledger row alike;
        # it is recorded as rejected in a savepoint of its own.
        with conn.transaction():
            registration = ledger.register(conn, entry)
            if registration.original is not None:  # another ingester registered the bytes meanwhile
                return settle_known_bytes(conn, file, entry, registration.original)
            assert registration.file_id is not None
            return record_rejection(conn, registration.file_id, file, str(refusal))


def fingerprint(path: Path) -> tuple[str, int]:
    """SHA-256 (hex) and size of a file's bytes."""
    with open(path, "rb") as stream:
        digest = hashlib.file_digest(stream, "sha256")
        return digest.hexdigest(), stream.tell()


def read_if_small(file: InboxFile) -> bytes | None:
    """The file's bytes when it holds at most WHOLE_FILE_BYTES, else None."""
    if file.size > WHOLE_FILE_BYTES:
        return None
    with open(file.path, "rb") as stream:
        data = stream.read(WHOLE_FILE_BYTES + 1)  # it may have grown since it was listed
    return data if len(data) <= WHOLE_FILE_BYTES else None


def ledger_entry(file: InboxFile, sha256: str, size: int) -> LedgerEntry:
    return LedgerEntry(file.name, file.name_bytes, sha256, size, file.modified_at, PARSER_VERSION)


def record_rejection(
    conn: psycopg.Connection, file_id: int, file: InboxFile, reason: str
) -> FileResult:
    ledger.record_findings(conn, file_id, ledger.rejected(reason))
    return FileResult(file.path, Outcome.REJECTED, file_id=file_id, message=reason)


def settle_known_bytes(
    conn: psycopg.Connection, file: InboxFile, entry: LedgerEntry, original: Original
) -> FileResult:
    """A file whose bytes the ledger has: the same file again, or a duplicate under another name."""
    if (original.file_name, original.file_name_bytes) == (file.name, file.name_bytes):
        return FileResult(file.path, Outcome.UNCHANGED, file_id=original.file_id)
    if not ledger.record_duplicate(conn, entry, original):  # this name was recorded before
        return FileResult(file.path, Outcome.UNCHANGED, file_id=original.file_id)
    return FileResult(
        file.path,
        Outcome.DUPLICATE,
        file_id=original.file_id,
        message=f"the same bytes as {original.file_name}",
    )


def copy_file(
    conn: psycopg.Connection,
    file_id: int,
    file: InboxFile,
    entry: LedgerEntry,
    data: bytes | None = None,
) -> FileResult:
    """Parse the file (`data`, its bytes, or read from disk) and COPY its listings, then record its
    findings in its ledger row.

    Raises ValueRefused when the server refuses a value, and FileChanged when
    its bytes are not the entry's: either way the caller rolls back what it
    wrote.
    """
    reader = FileReader(file)
    refused: psycopg.DataError | None = None
    with _registered_bytes(file, entry, data) as source:
        try:
            with conn.cursor() as cursor, listing_copy(cursor) as copy:
                findings = reader.copy_listings(source, copy, file_id)
        except psycopg.DataError as exc:
            refused = exc
    if refused is not None:  # the server's error aborted the file's savepoint
        raise ValueRefused(f"a value the warehouse cannot store: {first_line(refused)}")
    ledger.record_findings(conn, file_id, findings)
    return reader.result(file_id, findings)


class FileReader:
    """One file decoded and parsed into a COPY, and what reading it found."""

    def __init__(self, file: InboxFile) -> None:
        self.file = file
        self.notes = Notes()
        self.parser = ListingParser(
            modified_on=datetime.fromtimestamp(file.mtime).date(), notes=self.notes
        )

    def copy_listings(self, source: bytes | BinaryIO, copy: ListingCopy, file_id: int) -> Findings:
        """Write the file's listings into `copy`; a file that is no listing file writes none.

        `source` is the whole file's bytes, or a stream of them.
        """
        if isinstance(source, bytes):
            clean = copy.write_clean_file(source, file_id, self.parser.modified_on)
            if clean is not None:
                return Findings(
                    status=Outcome.LOADED,
                    listing_count=clean.listing_count,
                    error=None,
                    layout=clean.layout,
                    encoding="utf-8",
                    scraped_on=clean.page_date or self.parser.modified_on,
                )
            source = io.BytesIO(source)
        try:
            decoded = decode_lines(source, self.notes)
            count = copy.write_listings(file_id, self.parser.parse(decoded.batches))
        except UnrecognizedContent as exc:
            # Raised before the first listing, if ever: the parser knows a page by its header.
            assert self.parser.listings == 0, "a file was rejected after some of its listings"
            return ledger.rejected(str(exc))
        return self.findings(count, decoded.encoding)

    def findings(self, count: int, encoding: str) -> Findings:
        error = self.notes.render()
        if count == 0 and error is None and self.parser.has_content:
            error = "no listings after the page header"
        layout = self.parser.layout
        return Findings(
            status=Outcome.LOADED if count else Outcome.EMPTY,
            listing_count=count,
            error=error,
            layout=layout.value if layout else None,
            encoding=encoding,
            scraped_on=self.parser.scraped_on if count else None,
        )

    def result(self, file_id: int, findings: Findings) -> FileResult:
        return FileResult(
            self.file.path,
            findings.status,
            listing_count=findings.listing_count,
            file_id=file_id,
            message=findings.error,
        )


@contextmanager
def _registered_bytes(
    file: InboxFile, entry: LedgerEntry, data: bytes | None
) -> Iterator[bytes | BinaryIO]:
    """The bytes the ledger entry was registered for: `data`, or the file read again and checked
    against them once read (FileChanged), even when what was read was no listing file.
    """
    if data is not None:
        yield data
        return
    with open(file.path, "rb") as raw:
        hashing = HashingReader(raw)
        yield io.BufferedReader(hashing, READ_CHUNK)
        hashing.verify(entry.sha256, entry.size_bytes)


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
        """Read to the end, then check the bytes are the ones the ledger entry was registered for."""
        buffer = bytearray(READ_CHUNK)
        while self.readinto(buffer):
            pass
        if self._digest.hexdigest() != sha256 or self._bytes != size:
            raise FileChanged("the file changed while it was being read")

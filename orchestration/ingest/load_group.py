"""A group of small files loaded in one go: one round trip to claim them, one COPY, one to settle them.

Loading file by file (load.load_file) costs a savepoint, a claim, a COPY and
a settling update per file: for files of a few hundred listings those round
trips cost the client and the server about as much as a tenth of all ingest
work. On the common path nothing about a file needs undoing: a file that is
no listing file is known before its first listing is written, and known
bytes are known when claimed. Anything else (a file too big to hold, a read
error, a value the server refuses, a deadlock with another ingester) raises,
and the caller rolls the group back and loads its files one by one, where
each is judged alone.
"""

from __future__ import annotations

import hashlib
import io

import psycopg

from orchestration.ingest import ledger
from orchestration.ingest.inbox import InboxFile
from orchestration.ingest.load import (
    COPY_LISTINGS,
    FileReading,
    FileResult,
    already_known,
    claim_file,
    ledger_row,
    read_if_small,
)

# A group of many files of one size can grow past GROUP_BYTES (batch.py);
# past this much it goes file by file, which holds one file at a time.
MAX_GROUP_BYTES = 64 * 1024 * 1024


class NotForOneGo(Exception):
    """The group must be loaded file by file."""


def load_group(conn: psycopg.Connection, files: list[InboxFile]) -> list[FileResult]:
    """Load `files` inside the caller's savepoint, results in their order; any exception means
    the savepoint must be rolled back and the files loaded one by one.
    """
    if sum(file.size for file in files) > MAX_GROUP_BYTES:
        raise NotForOneGo("too many bytes to hold at once")
    contents = []
    for file in files:
        data = read_if_small(file)
        if data is None:
            raise NotForOneGo(f"{file.name} is too big to hold")
        contents.append(data)
    identities = [(hashlib.sha256(data).hexdigest(), len(data)) for data in contents]

    # The first file with some bytes claims them; later copies are settled below, as known bytes.
    claimers: dict[str, int] = {}
    for index, (sha256, _) in enumerate(identities):
        claimers.setdefault(sha256, index)
    file_ids = ledger.claim_many(
        conn,
        [
            ledger_row(files[index], sha256, identities[index][1])
            for sha256, index in claimers.items()
        ],
    )
    claimed = {
        index: file_id
        for index, file_id in zip(claimers.values(), file_ids, strict=True)
        if file_id is not None
    }

    results: dict[int, FileResult] = {}
    settlements: list[tuple[int, ledger.Settlement]] = []
    with conn.cursor() as cursor, cursor.copy(COPY_LISTINGS) as copy:
        for index, file_id in claimed.items():
            reading = FileReading(files[index])
            settlement = reading.copy_listings(io.BytesIO(contents[index]), copy, file_id)
            settlements.append((file_id, settlement))
            results[index] = reading.result(file_id, settlement)
    ledger.finish_many(conn, settlements)

    for index, file in enumerate(files):
        if index in results:
            continue
        sha256, size = identities[index]
        claim = claim_file(conn, file, sha256, size)
        if claim.known is None:
            raise NotForOneGo(
                f"the bytes of {file.name} are no longer known"
            )  # their claimer rolled back
        results[index] = already_known(conn, file, sha256, size, claim.known)
    return [results[index] for index in range(len(files))]

"""Re-parse files an older parser read (`paperhouse reingest --outdated`), replacing their listings atomically.

A file is found again in the inbox by its name and its bytes (SHA-256, as
the ledger has it). In one transaction its listings are deleted and parsed
anew, its ledger row is settled with the current parser version and a new
ingest_seq, and its features are dropped: readers see the old rows or the
new ones, never a mix or none. The next build extracts the file's features
again and, as the marts hold the file under its old ingest_seq, rebuilds
them in full (orchestration/models/plan.py: files_reparsed_since_build).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from pathlib import Path

import psycopg

from orchestration.ingest import ledger
from orchestration.ingest.inbox import InboxFile, scan
from orchestration.ingest.ledger import Outcome
from orchestration.ingest.load import (
    FileChanged,
    FileResult,
    ValueRefused,
    copy_file,
    fingerprint,
    ledger_entry,
    record_rejection,
)
from orchestration.ingest.parse import PARSER_VERSION
from orchestration.warehouse import connect

OUTDATED_FILES = """
select file_id, file_name, file_name_bytes, sha256, size_bytes
from raw.ingested_files
where parser_version < %s and status <> 'duplicate'
order by ingest_seq
"""


def reparse_outdated(url: str, paths: Iterable[Path]) -> list[FileResult]:
    """Re-parse every file whose parser version is older than PARSER_VERSION, found under `paths`."""
    in_inbox: dict[tuple[str, bytes | None, int], list[InboxFile]] = defaultdict(list)
    for file in scan(paths, settle_seconds=0).files:
        in_inbox[file.name, file.name_bytes, file.size].append(file)
    results = []
    with connect(url) as conn:
        outdated = conn.execute(OUTDATED_FILES, [PARSER_VERSION]).fetchall()
        for file_id, name, raw_name, sha256, size in outdated:
            file = _find(in_inbox[name, raw_name, size], sha256)
            if file is None:
                results.append(
                    FileResult(
                        Path(name),
                        Outcome.RETRY,
                        file_id=file_id,
                        message="not found in the inbox with the bytes it was ingested with; "
                        "its listings stay as the older parser read them",
                    )
                )
                continue
            results.append(reparse_one(conn, file_id, file, sha256, size))
    return results


def _find(candidates: list[InboxFile], sha256: str) -> InboxFile | None:
    for file in candidates:
        try:
            if fingerprint(file.path)[0] == sha256:
                return file
        except OSError:
            continue
    return None


def reparse_one(
    conn: psycopg.Connection, file_id: int, file: InboxFile, sha256: str, size: int
) -> FileResult:
    """Replace one file's listings in one transaction (`conn` in autocommit mode)."""
    entry = ledger_entry(file, sha256, size)
    try:
        try:
            with conn.transaction():
                return _replace(conn, file_id, lambda: copy_file(conn, file_id, file, entry))
        except ValueRefused as refusal:
            # The server refuses one of its values now: it keeps no listings.
            reason = str(refusal)
            with conn.transaction():
                return _replace(
                    conn, file_id, lambda: record_rejection(conn, file_id, file, reason)
                )
    except FileChanged:
        return FileResult(
            file.path,
            Outcome.RETRY,
            file_id=file_id,
            message="changed while it was being read; its listings stay as they were",
        )


def _replace(conn: psycopg.Connection, file_id: int, load: Callable[[], FileResult]) -> FileResult:
    conn.execute("delete from raw.paper_listings where file_id = %s", [file_id])
    result = load()
    conn.execute(
        "update raw.ingested_files set parser_version = %s where file_id = %s or duplicate_of = %s",
        [PARSER_VERSION, file_id, file_id],
    )
    # a new number: the next build sees the file as new (ledger.number_in_commit_order)
    conn.execute("update raw.ingested_files set ingest_seq = null where file_id = %s", [file_id])
    conn.execute("delete from features.extracted_files where file_id = %s", [file_id])
    ledger.number_in_commit_order(conn)
    return result

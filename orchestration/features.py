"""The features step between ingest and the dbt build: keyphrases and search documents of new listings.

A loaded file is pending when `features.extracted_files` has no row for
it, or one written by another extractor version (a changed rule or a
recalibrated reference). Pending files are extracted in batches, each batch
one transaction (delete, ledger row, COPY of the keyphrases, the search
documents computed by PostgreSQL), so a crash loses at most the batch in
flight and the next run picks it up again. One extraction runs at a
time per warehouse (a session advisory lock); a second one waits for it.

Big backlogs (the first load of years of files) are shared between this
process and worker processes, one process per core: the rule is pure Python
and CPU-bound.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import psycopg

from orchestration.keywords.extract import Keyword, keywords
from orchestration.keywords.vocabulary import Vocabulary, load_vocabulary
from orchestration.warehouse import connect
from orchestration.workers import map_shared

# hashtext('paperhouse.keywords'): serializes extraction runs on one warehouse.
LOCK_KEY = "select pg_advisory_lock(hashtext('paperhouse.keywords'))"
# Listings per transaction: big enough that commits cost nothing, small enough
# that a crash redoes little.
BATCH_LISTINGS = 5_000
# Below this many pending listings worker processes cost more to start than they save.
PARALLEL_THRESHOLD = 20_000

PENDING_FILES = """
select files.file_id, files.listing_count, extractions.file_id is not null as seen_before
from raw.ingested_files as files
left join features.extracted_files as extractions on extractions.file_id = files.file_id
where files.status = 'loaded'
    and (extractions.file_id is null or extractions.extractor_version <> %s)
order by files.ingest_seq
"""
# The build's bound: every loaded file up to this ingest_seq has its features.
# ingest_seq is commit order, so the files below a pending one are all visible.
EXTRACTED_THROUGH = """
select coalesce(
    (select min(files.ingest_seq) - 1
     from raw.ingested_files as files
     left join features.extracted_files as extractions
        on extractions.file_id = files.file_id and extractions.extractor_version = %(version)s
     where files.status = 'loaded' and extractions.file_id is null),
    (select max(ingest_seq) from raw.ingested_files),
    0
)
"""
LISTINGS = """
select file_id, position, title, abstract
from raw.paper_listings
where file_id = any(%s)
order by file_id, position
"""
COPY_KEYWORDS = """
copy features.listing_keywords
    (file_id, position, keywords, scores, in_title, occurrences, display_keywords)
from stdin
"""
INSERT_SEARCH_DOCUMENTS = """
insert into features.listing_search_documents (file_id, position, search_document)
select
    file_id,
    position,
    setweight(to_tsvector('english', title), 'A') || setweight(to_tsvector('english', abstract), 'B')
from raw.paper_listings
where file_id = any(%s)
"""
RECORD_EXTRACTION = """
insert into features.extracted_files (file_id, extractor_version, listing_count)
select file_id, %(version)s, count(*) filter (where position is not null)
from unnest(%(file_ids)s::bigint[]) as files (file_id)
left join raw.paper_listings using (file_id)
group by file_id
on conflict (file_id) do update
    set extractor_version = excluded.extractor_version,
        listing_count = excluded.listing_count,
        extracted_at = now()
"""


@dataclass(frozen=True)
class ExtractionSummary:
    files: int  # files extracted this run
    listings: int
    reextracted_files: int  # of those, files an older extractor version had done
    version: str


def extract_pending(
    url: str,
    *,
    workers: int | None = None,
    parallel_threshold: int = PARALLEL_THRESHOLD,
    on_start: Callable[[int], None] | None = None,
    on_batch: Callable[[int], None] | None = None,
) -> ExtractionSummary:
    """Extract the keyphrases of every pending file.

    `on_start(listings)` tells how many listings are pending, `on_batch(listings)`
    how many each batch did.
    """
    vocabulary = load_vocabulary()
    with connect(url) as conn, connect(url) as reader:
        conn.execute(LOCK_KEY)
        pending = conn.execute(PENDING_FILES, [vocabulary.version]).fetchall()
        batches = list(_batches(pending))
        total = sum(count for _, count, _ in pending)
        if on_start:
            on_start(total)
        workers = workers or os.cpu_count() or 1
        if total < parallel_threshold:
            workers = 1
        for done in map_shared(
            [(url, batch) for batch in batches],
            lambda job: extract_batch(conn, reader, job[1], vocabulary),
            _extract_batch_in_worker,
            workers,
        ):
            if on_batch:
                on_batch(done)
    return ExtractionSummary(
        files=len(pending),
        listings=total,
        reextracted_files=sum(1 for _, _, seen_before in pending if seen_before),
        version=vocabulary.version,
    )


def extracted_through(conn: psycopg.Connection) -> int:
    """The highest ingest_seq up to which every loaded file has its features: a build's bound.

    Files committed while a build runs (after its features step) are past it,
    and wait for the next build.
    """
    return conn.execute(EXTRACTED_THROUGH, {"version": load_vocabulary().version}).fetchone()[0]  # type: ignore[index]


def _batches(pending: Sequence[tuple[int, int, bool]]) -> Iterator[list[int]]:
    batch: list[int] = []
    size = 0
    for file_id, listing_count, _ in pending:
        batch.append(file_id)
        size += listing_count
        if size >= BATCH_LISTINGS:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


def extract_batch(
    writer: psycopg.Connection,
    reader: psycopg.Connection,
    file_ids: list[int],
    vocabulary: Vocabulary,
) -> int:
    """Replace the keyphrases of `file_ids` in one transaction of `writer`; return the listings done.

    `reader`, a second connection, streams the listings through a server-side
    cursor while `writer` is busy with its COPY (one connection cannot do both),
    so memory stays flat however big the files are.
    """
    done = 0
    with writer.transaction(), reader.transaction():
        writer.execute("delete from features.extracted_files where file_id = any(%s)", [file_ids])
        writer.execute(RECORD_EXTRACTION, {"version": vocabulary.version, "file_ids": file_ids})
        with (
            reader.cursor(name="paperhouse_keyword_listings") as listings,
            writer.cursor() as cursor,
        ):
            listings.itersize = 2_000
            listings.execute(LISTINGS, [file_ids])
            with cursor.copy(COPY_KEYWORDS) as copy:
                for file_id, position, title, abstract in listings:
                    copy.write(
                        keyword_row(file_id, position, keywords(title, abstract, vocabulary))
                    )
                    done += 1
        writer.execute(INSERT_SEARCH_DOCUMENTS, [file_ids])
    return done


def keyword_row(file_id: int, position: int, found: list[Keyword]) -> str:
    """One line of COPY's text format for features.listing_keywords.

    Written by hand because psycopg dumps arrays element by element in
    Python, which costs several times the five joins of their text form.
    Every element is quoted, so array_in reads any text as one element;
    a quote or backslash in one is escaped, then what COPY's text format
    must escape.
    """
    return (
        "\t".join(
            (
                str(file_id),
                str(position),
                _text_array([k.keyword for k in found]),
                _array([repr(k.score) for k in found]),
                _array(["t" if k.in_title else "f" for k in found]),
                _array([str(k.occurrences) for k in found]),
                _text_array([k.display for k in found]),
            )
        )
        + "\n"
    )


# What an array element or a COPY text field must escape: array_in's quote and
# backslash, then COPY's backslash (doubled again) and line and field breaks.
NEEDS_ESCAPE = re.compile(r'["\\\t\n\r]')
COPY_TEXT_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _array(items: list[str]) -> str:
    return "{" + ",".join(items) + "}"


def _text_array(items: list[str]) -> str:
    if not items:
        return "{}"
    joined = '","'.join(items)
    if NEEDS_ESCAPE.search(joined) is None:
        return '{"' + joined + '"}'
    quoted = [item.replace("\\", "\\\\").replace('"', '\\"') for item in items]
    return ('{"' + '","'.join(quoted) + '"}').translate(COPY_TEXT_ESCAPES)


def _extract_batch_in_worker(job: tuple[str, list[int]]) -> int:
    url, file_ids = job
    global _worker_connections
    if _worker_connections is None:
        _worker_connections = (connect(url), connect(url))
    writer, reader = _worker_connections
    return extract_batch(writer, reader, file_ids, load_vocabulary())


# A worker process's two connections, opened by its first batch.
_worker_connections: tuple[psycopg.Connection, psycopg.Connection] | None = None

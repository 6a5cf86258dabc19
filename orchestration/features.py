"""The features step between ingest and the dbt build: keyphrases and search documents of new listings.

A loaded file is pending when `features.extracted_files` has no row for
it, or one written by another extractor version (a changed rule or a
recalibrated reference). Pending files are extracted in batches, each batch
one transaction (delete, ledger row, COPY of the keyphrases, the copies for
relisted texts, the search documents: laid out from the server's parse of each
piece of a text (search_documents.py), the rest computed by PostgreSQL), so a crash
loses at most the batch in flight and the next run picks it up again. One
extraction runs at a time per warehouse (a session advisory lock); a second
one waits for it.

A listing whose text the keyphrase rule raises on (a bug of the rule) is kept
with no keyphrases and the error, and the step goes on with the others: the
check no_keyphrase_error shows it until a fixed rule, with its version bumped,
extracts it again. A rule that raises on most of a batch is broken: the step
stops there (RULE_BROKEN_SHARE, RULE_BROKEN_CAP).

A relisted paper (the same title and abstract on another day's page) has
the features of its earlier listing, copied rather than computed again; in
one batch, the same text's keyphrases are computed once.

Big backlogs (the first load of years of files) are shared between this
process and worker processes, one process per core: the rule is pure Python
and CPU-bound. Before one, the raw tables are analyzed (READ_TABLES says why).
"""

from __future__ import annotations

import gc
import os
import traceback
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import psycopg
from psycopg import sql

from orchestration.keywords.copy_format import keyword_arrays
from orchestration.keywords.vocabulary import Vocabulary, load_vocabulary
from orchestration.search_documents import DocumentRows
from orchestration.warehouse import connect, take_session_lock
from orchestration.workers import map_shared

# Serializes extraction runs on one warehouse.
EXTRACTION_LOCK_KEY = sql.SQL("hashtext('paperhouse.keywords')")
# What a features step waiting for another tells its user (CLI) or its log (Dagster).
EXTRACTION_WAIT = "another features step is running on this warehouse: waiting for it"
# What a features step that kept listings without keyphrases tells its user or its log.
FAILED_LISTINGS_WARNING = (
    "the keyphrase rule raised on {:,} listing(s), kept without keyphrases: "
    "the check no_keyphrase_error names them and the error"
)
# Listings per transaction: big enough that commits cost nothing, small enough
# that a crash redoes little.
BATCH_LISTINGS = 5_000
# Keyphrase rows per COPY message: about 64 KB.
COPY_BLOCK_LINES = 200
# Below this many pending listings worker processes cost more to start than they save.
PARALLEL_THRESHOLD = 20_000
# The tables the step reads, analyzed before it when the listings it is about to read are a
# large share of what their statistics know of. A first load's listings have none until
# autovacuum gets to them, a minute or more later, and the step's queries planned without them
# cost it about a quarter more. ANALYZE samples a fixed number of rows: under a second at any size.
READ_TABLES = ("raw.paper_listings", "raw.ingested_files")
# autovacuum's own default (autovacuum_analyze_scale_factor), applied now rather than when its
# worker next wakes up
STALE_SHARE = 0.1
# the listings the statistics know of: -1 (PostgreSQL 14 and later) or 0 when never analyzed
ANALYZED_LISTINGS = "select reltuples from pg_class where oid = 'raw.paper_listings'::regclass"

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
# Each listing, with the earlier listing of the same text whose features the
# current extractor computed, if there is one: a relisted paper's features are
# copied from it rather than computed again. A title holds no line break, so
# title and abstract cannot run together in the digest. The digest finds the
# source, the texts themselves decide: md5 collisions can be made on purpose. The
# batch's own files are never a source: the reader may still see what the writer
# is replacing.
# The lateral subquery's limit keeps it a lookup per listing in the digest's
# index; as a join, the planner hashes every extracted listing for each batch.
# Its order is fixed: the digest's index, then each candidate's extraction and
# text by primary key. Each step is a lateral subquery behind OFFSET 0, which the
# planner may neither flatten nor reorder. Free to choose, it picks by
# statistics that lag far behind in a first load (the tables grow by thousands
# of rows a second), and its picks then scan every extracted file, or every
# listing, once per listing.
LISTINGS = """
select
    listing.file_id,
    listing.position,
    source.file_id,
    source.position,
    case when source.file_id is null then listing.title end,
    case when source.file_id is null then listing.abstract end,
    listing.text_digest
from (
    select file_id, position, title, abstract, md5(title || E'\\n' || abstract) as text_digest
    from raw.paper_listings
    where file_id = any(%(file_ids)s)
) as listing
left join lateral (
    select earlier.file_id, earlier.position
    from (
        select file_id, position
        from features.listing_keywords
        where text_digest = listing.text_digest::uuid and file_id <> all(%(file_ids)s)
        offset 0
    ) as earlier
    cross join lateral (
        select
        from features.extracted_files as extraction
        where extraction.file_id = earlier.file_id and extraction.extractor_version = %(version)s
        offset 0
    ) as current_version
    cross join lateral (
        select
        from raw.paper_listings as earlier_listing
        where earlier_listing.file_id = earlier.file_id
            and earlier_listing.position = earlier.position
            and earlier_listing.title = listing.title
            and earlier_listing.abstract = listing.abstract
        offset 0
    ) as same_text
    limit 1
) as source on true
order by listing.file_id, listing.position
"""
COPY_KEYWORDS = """
copy features.listing_keywords
    (file_id, position, keywords, scores, in_title, occurrences, display_keywords, text_digest)
from stdin
"""
# The features of the listings LISTINGS found a source for, copied from it.
COPY_FEATURES_FROM_SOURCES = """
with copied as (
    select *
    from unnest(
        %(file_ids)s::bigint[], %(positions)s::integer[],
        %(source_file_ids)s::bigint[], %(source_positions)s::integer[]
    ) as copied (file_id, position, source_file_id, source_position)
),
copied_keywords as (
    insert into features.listing_keywords
        (file_id, position, keywords, scores, in_title, occurrences, display_keywords, text_digest)
    select
        copied.file_id,
        copied.position,
        source.keywords,
        source.scores,
        source.in_title,
        source.occurrences,
        source.display_keywords,
        source.text_digest
    from copied
    inner join features.listing_keywords as source
        on copied.source_file_id = source.file_id and copied.source_position = source.position
    returning 1
)
insert into features.listing_search_documents (file_id, position, search_document)
select copied.file_id, copied.position, source.search_document
from copied
inner join features.listing_search_documents as source
    on copied.source_file_id = source.file_id and copied.source_position = source.position
-- no search document is copied unless every keyphrase row was: the row count tells both
where (select count(*) from copied_keywords) = %(copies)s
"""
INSERT_SEARCH_DOCUMENTS = """
insert into features.listing_search_documents (file_id, position, search_document)
select
    listing.file_id,
    listing.position,
    setweight(to_tsvector('english', listing.title), 'A')
    || setweight(to_tsvector('english', listing.abstract), 'B')
from raw.paper_listings as listing
where listing.file_id = any(%(file_ids)s)
    and not exists (
        select from features.listing_search_documents as done
        where done.file_id = any(%(file_ids)s)
            and done.file_id = listing.file_id
            and done.position = listing.position
    )
"""
# The listings the rule raised on: no keyphrases, the error, no digest (never a copy's source).
INSERT_FAILED_LISTINGS = """
insert into features.listing_keywords
    (file_id, position, keywords, scores, in_title, occurrences, display_keywords, extraction_error)
select file_id, position, '{}', '{}', '{}', '{}', '{}', error
from unnest(%(file_ids)s::bigint[], %(positions)s::integer[], %(errors)s::text[])
    as failed (file_id, position, error)
"""
# The length an error is kept to: its type, message and where it was raised.
ERROR_CHARACTERS = 500
# A rule that raises on most of a batch's texts is broken, not tripped by odd ones: keeping them
# all without keyphrases would empty the keyword marts behind a mere warning, so the batch is
# rolled back and the step stops (BrokenRuleError). "Most": over this share of the listings the
# batch computed, and at least RULE_BROKEN_FLOOR of them, so that a small page with a few odd
# texts is still only warned about.
RULE_BROKEN_SHARE = 0.5
RULE_BROKEN_FLOOR = 20
# Failures held in memory until the batch's COPY ends, at most: a batch is one file however
# large, and a broken rule on a file of a million listings would otherwise hold a million errors.
RULE_BROKEN_CAP = 10_000
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
returning listing_count
"""


class BrokenRuleError(RuntimeError):
    """The keyphrase rule raised on most of a batch's listings (RULE_BROKEN_SHARE, RULE_BROKEN_CAP)."""


@dataclass(frozen=True)
class ExtractionSummary:
    files: int  # files extracted this run
    listings: int
    reextracted_files: int  # of those, files an older extractor version had done
    version: str
    # listings whose features were copied from an earlier listing of the same text
    # (defaults: reports pickled before they existed still load)
    copied_listings: int = 0
    # listings the keyphrase rule raised on: kept without keyphrases (see extract_batch)
    failed_listings: int = 0


def extract_pending(
    url: str,
    *,
    workers: int | None = None,
    parallel_threshold: int = PARALLEL_THRESHOLD,
    on_start: Callable[[int], None] | None = None,
    on_batch: Callable[[int], None] | None = None,
    on_wait: Callable[[], None] | None = None,
) -> ExtractionSummary:
    """Extract the keyphrases of every pending file.

    `on_start(listings)` tells how many listings are pending, `on_batch(listings)`
    how many each batch did; `on_wait()` is called if another extraction runs on
    the warehouse and this one waits for it to end.
    """
    vocabulary = load_vocabulary()
    with connect(url) as conn, connect(url) as reader:
        take_session_lock(conn, EXTRACTION_LOCK_KEY, on_wait)
        pending = conn.execute(PENDING_FILES, [vocabulary.version]).fetchall()
        batches = list(_batches(pending))
        total = sum(count for _, count, _ in pending)
        analyze_if_stale(conn, total)
        if on_start:
            on_start(total)
        workers = workers or os.cpu_count() or 1
        if total < parallel_threshold:
            workers = 1
        copied = failed = 0
        try:
            for done in map_shared(
                [(url, batch) for batch in batches],
                lambda job: settled(extract_batch(conn, reader, job[1], vocabulary)),
                _extract_batch_in_worker,
                workers,
            ):
                copied += done.copied
                failed += done.failed
                if on_batch:
                    on_batch(done.listings)
        finally:
            # what the batches froze is this process's again: collected as usual from now on
            gc.unfreeze()
    return ExtractionSummary(
        files=len(pending),
        listings=total,
        copied_listings=copied,
        failed_listings=failed,
        reextracted_files=sum(1 for _, _, seen_before in pending if seen_before),
        version=vocabulary.version,
    )


def analyze_if_stale(conn: psycopg.Connection, pending_listings: int) -> bool:
    """ANALYZE the tables the step reads when `pending_listings` are more than STALE_SHARE of the
    listings their statistics know of; whether it did."""
    (known,) = conn.execute(ANALYZED_LISTINGS).fetchone()  # type: ignore[misc]
    if pending_listings <= STALE_SHARE * max(known, 0):
        return False
    for table in READ_TABLES:
        # a table another role owns is skipped by the server, with a warning
        conn.execute(sql.SQL("analyze {}").format(sql.SQL(table)))
    return True


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


class BatchDone(NamedTuple):
    listings: int
    copied: int  # of those, listings whose features were taken from the same text before
    failed: int = 0  # of those, listings the keyphrase rule raised on


def extract_batch(
    writer: psycopg.Connection,
    reader: psycopg.Connection,
    file_ids: list[int],
    vocabulary: Vocabulary,
) -> BatchDone:
    """Replace the features of `file_ids` in one transaction of `writer`.

    `reader`, a second connection, streams the listings through a server-side
    cursor while `writer` is busy with its COPY (one connection cannot do both),
    so memory stays flat however big the files are, but for four integers per
    relisted listing, kept until the COPY ends and the writer can copy them.
    Between two fetches the reader also parses the pieces of text the search
    documents lack (search_documents.py); the documents wait in a spool file
    for the writer's second COPY. The reader sees the features committed before
    the batch began, which is where the copied ones come from. A text listed twice in the batch itself has its
    keyphrases computed once: the texts and keyphrase arrays of up to
    BATCH_LISTINGS computed listings stay in memory until the batch ends.

    A listing the rule raises on gets a row with no keyphrases and the error
    (INSERT_FAILED_LISTINGS) and a search document like any other: one text that
    trips a bug of the rule must not stop the features of every listing after
    it, in this run and every later one.
    """
    batch = {"version": vocabulary.version, "file_ids": file_ids}
    # (file_id, position, source's file_id, source's position) of each listing copied
    copies: list[tuple[int, int, int, int]] = []
    # keyphrase arrays (keyword_row's) by text, of listings computed in this batch
    # (its files list a paper again on another day's page)
    computed: dict[tuple[str, str], str] = {}
    # (file_id, position, error) of each listing the rule raised on, and the first exception
    failures: list[tuple[int, int, str]] = []
    first_failure: Exception | None = None
    reused = 0
    with (
        writer.transaction(),
        reader.transaction(),
        DocumentRows.for_batch(reader) as documents,
    ):
        writer.execute("delete from features.extracted_files where file_id = any(%s)", [file_ids])
        listings = sum(count for (count,) in writer.execute(RECORD_EXTRACTION, batch))
        with (
            reader.cursor(name="paperhouse_keyword_listings") as rows,
            writer.cursor() as cursor,
        ):
            rows.itersize = 2_000
            rows.execute(LISTINGS, batch)
            with cursor.copy(COPY_KEYWORDS) as copy:
                # lines go to COPY in blocks: a str given to Copy.write is sent at
                # once, a message and a wake-up of the server per listing
                lines: list[str] = []
                for file_id, position, *source, title, abstract, digest in rows:
                    if source[0] is not None:
                        copies.append((file_id, position, *source))
                        continue
                    if documents:
                        documents.add(file_id, position, title, abstract)
                    arrays = computed.get((title, abstract))
                    if arrays is None:
                        try:
                            arrays = keyword_arrays(title, abstract, vocabulary)
                        except Exception as error:  # whatever a bug of the rule raises
                            failures.append((file_id, position, describe_error(error)))
                            first_failure = first_failure or error
                            # what is left may all be copies: at most this many are computed
                            most_computed = listings - len(copies) - reused
                            _refuse_a_broken_rule(failures, listings, most_computed, first_failure)
                            continue
                        if len(computed) < BATCH_LISTINGS:
                            computed[title, abstract] = arrays
                    else:
                        reused += 1
                    lines.append(keyword_row(file_id, position, arrays, digest))
                    if len(lines) == COPY_BLOCK_LINES:
                        copy.write("".join(lines))
                        lines.clear()
                copy.write("".join(lines))
        if copies:
            _copy_features(writer, copies)
        if failures:
            computed_listings = listings - len(copies) - reused
            _refuse_a_broken_rule(failures, listings, computed_listings, first_failure)
            failed_files, failed_positions, errors = zip(*failures, strict=True)
            writer.execute(
                INSERT_FAILED_LISTINGS,
                {
                    "file_ids": list(failed_files),
                    "positions": list(failed_positions),
                    "errors": list(errors),
                },
            )
        if documents:
            documents.copy_into(writer)
        # the documents not laid out here, from the whole text
        writer.execute(INSERT_SEARCH_DOCUMENTS, batch)
    return BatchDone(listings, len(copies) + reused, len(failures))


def _refuse_a_broken_rule(
    failures: list[tuple[int, int, str]], listings: int, computed: int, first: Exception | None
) -> None:
    """Raise BrokenRuleError if the rule raised on most of the `computed` listings of a batch of
    `listings` (RULE_BROKEN_SHARE), or on RULE_BROKEN_CAP; its transaction is then rolled back.

    `computed` may be an upper bound (while the batch is read): failures only grow and the
    listings computed only shrink towards it, so a batch refused early is one refused at its end.
    """
    failed = len(failures)
    if failed < RULE_BROKEN_FLOOR:
        return
    if failed > RULE_BROKEN_SHARE * computed:
        why = "most of what it computed"
    elif failed >= RULE_BROKEN_CAP:
        why = f"the most one batch may hold ({RULE_BROKEN_CAP:,})"
    else:
        return
    raise BrokenRuleError(
        f"the keyphrase rule raised on {failed:,} of the {listings:,} listings of one batch, "
        f"{why}: the rule is broken, not the texts; nothing of the batch was kept. "
        f"The first error: {failures[0][2]}"
    ) from first


def describe_error(error: Exception) -> str:
    """`error` in a line for the one who fixes the rule: its type, message and the innermost
    place it was raised (`ValueError: ... (extract.py:612, in title_name)`)."""
    place = ""
    if frames := traceback.extract_tb(error.__traceback__):
        innermost = frames[-1]
        place = f" ({Path(innermost.filename).name}:{innermost.lineno}, in {innermost.name})"
    try:
        message = str(error)
    except Exception:  # an exception's own __str__ may fail too; the traceback module says so
        message = "<exception str() failed>"
    # one line, and no NUL, which a text column refuses
    text = " ".join(f"{type(error).__name__}: {message}".replace("\x00", "").split())
    return text[: ERROR_CHARACTERS - len(place)] + place


def _copy_features(writer: psycopg.Connection, copies: list[tuple[int, int, int, int]]) -> None:
    file_ids, positions, source_file_ids, source_positions = zip(*copies, strict=True)
    copied = writer.execute(
        COPY_FEATURES_FROM_SOURCES,
        {
            "file_ids": list(file_ids),
            "positions": list(positions),
            "source_file_ids": list(source_file_ids),
            "source_positions": list(source_positions),
            "copies": len(copies),
        },
    ).rowcount
    if copied != len(copies):
        # A source deleted (its file re-ingested or removed) after the reader found it:
        # the batch is rolled back, and the next build extracts it again.
        raise RuntimeError(
            f"{len(copies) - copied:,} of {len(copies):,} listings lost the earlier listing "
            "of the same text their features were to be copied from while the features step "
            "ran; nothing of this batch was kept: build again"
        )


def keyword_row(file_id: int, position: int, arrays: str, digest: str) -> str:
    """One line of COPY's text format for features.listing_keywords: `arrays` as
    keywords.copy_format writes them; `digest` the text's md5 in hexadecimal, as PostgreSQL's
    md5() gives it."""
    return f"{file_id}\t{position}\t{arrays}\t{digest}\n"


def _extract_batch_in_worker(job: tuple[str, list[int]]) -> BatchDone:
    url, file_ids = job
    global _worker_connections
    if _worker_connections is None:
        _worker_connections = (connect(url), connect(url))
    writer, reader = _worker_connections
    return settled(extract_batch(writer, reader, file_ids, load_vocabulary()))


def settled(done: BatchDone) -> BatchDone:
    """`done`, after this batch's cyclic garbage is collected and what survives it frozen.

    What outlives a batch is mostly the token cache (orchestration/keywords): a
    token for every word seen, up to a million. Tokens are named tuples, which the
    cyclic collector never untracks (it untracks plain tuples only), so every full
    collection would walk the whole cache again, and the batches' allocations set
    one off every few batches. Frozen objects are left out of collections and still
    freed when no longer referenced (the cache cleared at its limit). Collecting
    first keeps the batch's own cycles out of the frozen set; it walks only what
    the batch made.
    """
    gc.collect()
    gc.freeze()
    return done


# A worker process's two connections, opened by its first batch.
_worker_connections: tuple[psycopg.Connection, psycopg.Connection] | None = None

"""Questions users ask the warehouse: read-only SQL, search, one paper, keywords, trends.

Every function takes an open connection and returns a `Rows` (column names
and rows), which orchestration/output.py renders as a table, CSV or JSON.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from functools import wraps
from typing import Any, ParamSpec, TypeVar
from uuid import UUID

import psycopg
from psycopg import sql

from orchestration.warehouse import first_line

DEFAULT_TIMEOUT_SECONDS = 30.0

P = ParamSpec("P")
R = TypeVar("R")


class ReadOnlyViolation(RuntimeError):
    """A statement tried to change the warehouse; the message says what to do instead."""


class QueryFailed(RuntimeError):
    """The warehouse refused or could not run a query; the message is PostgreSQL's."""


class MartsNotBuilt(QueryFailed):
    """A question of a warehouse whose marts its first build has not made yet."""

    def __init__(self, detail: str) -> None:
        super().__init__(
            f"the marts are not built yet ({detail}): `paperhouse build` builds them, "
            "`paperhouse run` ingests the inbox and builds them"
        )


# SQLSTATE class 54, program limit exceeded: a statement too complex, too many columns or arguments.
PROGRAM_LIMIT_EXCEEDED = "54"


def asks_the_marts(question: Callable[P, R]) -> Callable[P, R]:
    """`question` reads the marts: on a warehouse without them, MartsNotBuilt, and asked with
    more than the server takes (twenty thousand search words), QueryFailed, rather than
    PostgreSQL's errors."""

    @wraps(question)
    def asking(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return question(*args, **kwargs)
        except psycopg.errors.UndefinedTable as exc:
            raise MartsNotBuilt(first_line(exc)) from exc
        except psycopg.OperationalError as exc:
            if not (exc.sqlstate or "").startswith(PROGRAM_LIMIT_EXCEEDED):
                raise
            raise QueryFailed(f"too much to ask at once: {first_line(exc)}") from exc

    return asking


@dataclass
class Rows:
    columns: list[str]
    rows: list[tuple[Any, ...]] = field(default_factory=list)


@dataclass
class RowStream:
    """A result read as it arrives: its column names, then its rows, once."""

    columns: list[str]
    rows: Iterator[tuple[Any, ...]]


# What `paperhouse sql` runs: queries. COPY (which can run programs on the
# server), DO, CALL, SET, LOCK, CHECKPOINT, LISTEN and the rest are refused.
QUERY_KEYWORDS = ("select", "with", "values", "table", "explain", "show")
# The queries a cursor (DECLARE) takes, whose rows are streamed.
CURSOR_KEYWORDS = frozenset(["select", "with", "values", "table"])
# Rows a fetch of a streamed result: a few MB at most for a wide row, and few
# enough round trips that they cost nothing beside the rows themselves.
STREAM_ROWS = 5_000
# The words PostgreSQL's other statements start with (its "SQL Commands"): a
# statement starting with one is refused; any other first word is a typo,
# reported as the syntax error it is.
STATEMENT_KEYWORDS = frozenset(
    [
        "abort",
        "alter",
        "analyze",
        "analyse",
        "begin",
        "call",
        "checkpoint",
        "close",
        "cluster",
        "comment",
        "commit",
        "copy",
        "create",
        "deallocate",
        "declare",
        "delete",
        "discard",
        "do",
        "drop",
        "end",
        "execute",
        "fetch",
        "grant",
        "import",
        "insert",
        "listen",
        "load",
        "lock",
        "merge",
        "move",
        "notify",
        "prepare",
        "reassign",
        "refresh",
        "reindex",
        "release",
        "reset",
        "revoke",
        "rollback",
        "savepoint",
        "security",
        "set",
        "start",
        "truncate",
        "unlisten",
        "update",
        "vacuum",
    ]
)

# pg_read_all_data (PostgreSQL 14+) reads every table and view and nothing
# more: no writes, no server files or programs, no signalling other sessions.
READ_ALL_DATA_ROLE = "pg_read_all_data"
CAN_BECOME_READER = """
select exists (select from pg_roles where rolname = %(role)s)
    and pg_has_role(current_user, %(role)s, 'member')
"""


def leading_keyword(statement: str) -> str:
    """The first word of a SQL statement, past white space, comments and opening parentheses.

    Written by hand: only the first token matters (the server's own parser
    holds the statement to one, see read_only_query), and comments nest in
    PostgreSQL, which a regular expression cannot follow.
    """
    i, n = 0, len(statement)
    while i < n:
        if statement[i].isspace() or statement[i] == "(":
            i += 1
        elif statement.startswith("--", i):
            end = statement.find("\n", i)
            i = n if end < 0 else end + 1
        elif statement.startswith("/*", i):
            depth, i = 1, i + 2
            while i < n and depth:
                if statement.startswith("/*", i):
                    depth, i = depth + 1, i + 2
                elif statement.startswith("*/", i):
                    depth, i = depth - 1, i + 2
                else:
                    i += 1
        else:
            break
    end = i
    while end < n and (statement[end].isalnum() or statement[end] == "_"):
        end += 1
    return statement[i:end].lower()


@contextmanager
def read_only_query(
    conn: psycopg.Connection, query: str, timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS
) -> Iterator[RowStream]:
    """Run one query in a READ ONLY transaction, with read-only privileges and a statement
    timeout; its rows come as the caller reads them.

    Three guards, each enough for most mistakes:
    - only queries (QUERY_KEYWORDS) are run, and the statement goes through
      the extended protocol, which takes exactly one: `select 1; commit;
      drop ...` is refused;
    - the transaction is READ ONLY: writes, DDL and functions that write
      (nextval, a PL/pgSQL function that inserts) fail however deep in a CTE
      or function call they hide;
    - when the login may (superusers, the embedded server's), the query
      runs as pg_read_all_data, so functions with other side effects
      (pg_terminate_backend, lo_export, pg_read_file) are refused too;
    and the transaction is always rolled back, and refused if it wrote at
    all: then after the caller has read the rows, which are not to be kept.
    It guards against mistakes, not against someone who holds a superuser
    login (set_config can restore the role): give people who should only
    read a login of their own (`paperhouse db create-reader`).

    A select is read through a server-side cursor, STREAM_ROWS rows a fetch,
    so a result of any size takes bounded memory here; the timeout then
    bounds the server's time for each fetch, not the whole read.
    """
    keyword = leading_keyword(query)
    if keyword and keyword not in QUERY_KEYWORDS and keyword not in STATEMENT_KEYWORDS:
        raise QueryFailed(
            f'syntax error at or near "{keyword}": a query starts with '
            f"{', '.join(k.upper() for k in QUERY_KEYWORDS)}"
        )
    if keyword not in QUERY_KEYWORDS:
        raise ReadOnlyViolation(
            f"refused: paperhouse sql runs queries only ({', '.join(k.upper() for k in QUERY_KEYWORDS)}), "
            f"not {keyword.upper() or 'this statement'}. The warehouse changes through paperhouse ingest and build."
        )
    try:
        # never committed: a read leaves nothing behind, whatever it called
        with conn.transaction(force_rollback=True):
            conn.execute("set transaction read only")
            conn.execute(
                "select set_config('statement_timeout', %s, true)",
                # rounded up: 0 would turn the timeout off
                [f"{math.ceil(timeout_seconds * 1000)}ms"],
            )
            # a cursor's plan favours its first rows unless told that all of them are read
            conn.execute("set local cursor_tuple_fraction = 1")
            if conn.execute(CAN_BECOME_READER, {"role": READ_ALL_DATA_ROLE}).fetchone()[0]:  # type: ignore[index]
                conn.execute(
                    sql.SQL("set local role {}").format(sql.Identifier(READ_ALL_DATA_ROLE))
                )
            # a trailing `;` is how people end statements, not a second one
            yield _open_result(conn, query.strip().rstrip(";"), keyword)
            # A write that READ ONLY let through (PostgreSQL 15 lets lo_from_bytea
            # create a large object) took a transaction id: refuse the result.
            if conn.execute("select pg_current_xact_id_if_assigned() is not null").fetchone()[0]:  # type: ignore[index]
                raise ReadOnlyViolation(
                    "refused: paperhouse sql only reads, and this statement wrote to the database; "
                    "what it wrote was rolled back"
                )
    except (
        psycopg.errors.ReadOnlySqlTransaction,  # a write
        psycopg.errors.InsufficientPrivilege,  # a side effect pg_read_all_data may not have
        psycopg.errors.ActiveSqlTransaction,  # set_config('transaction_read_only', 'off', ...)
    ) as exc:
        raise ReadOnlyViolation(
            f"refused: paperhouse sql only reads ({first_line(exc)}). "
            "The warehouse changes through paperhouse ingest and build."
        ) from exc
    except psycopg.errors.QueryCanceled as exc:
        raise QueryFailed(
            f"the query ran longer than {timeout_seconds:g}s and was cancelled"
        ) from exc
    except psycopg.OperationalError as exc:
        if conn.broken:
            raise  # the warehouse itself is gone: the caller says so
        # the server refused this query (too deep, too many parameters) and is still there
        raise QueryFailed(first_line(exc)) from exc
    except psycopg.Error as exc:
        if "multiple commands" in str(exc):
            raise ReadOnlyViolation(
                "refused: paperhouse sql takes one statement at a time"
            ) from exc
        raise QueryFailed(first_line(exc)) from exc


def _open_result(conn: psycopg.Connection, statement: str, keyword: str) -> RowStream:
    if keyword in CURSOR_KEYWORDS:
        cursor = conn.cursor(name="paperhouse_sql")
        cursor.itersize = STREAM_ROWS
        try:
            # a savepoint: DECLARE refuses a WITH that writes, and the plain
            # query below then fails as the read-only transaction refuses it
            with conn.transaction():
                cursor.execute(statement)
            return RowStream([column.name for column in cursor.description or []], iter(cursor))
        except psycopg.errors.FeatureNotSupported:
            pass
    # EXPLAIN and SHOW, which no cursor takes: a few rows
    plain = conn.cursor()
    plain.execute(statement, prepare=True)  # type: ignore[call-overload]
    if plain.description is None:
        return RowStream([], iter(()))
    return RowStream([column.name for column in plain.description], iter(plain.fetchall()))


# Ranking costs a read of every matching paper's search document: fine for a
# specific query, far too slow for a word in one paper of fifteen at a
# million papers. A common query ranks only its RECENT_CANDIDATES most recently seen
# matches, found by walking an index on last_seen_at (dense matches end that
# walk early); any other ranks every match. A query is common when
# RECENT_CANDIDATES of the RECENT_WINDOW most recently seen papers match it
# (that walk, a few ms), or else when more than EXHAUSTIVE_MATCHES papers do
# (counted through the GIN index, which for words that are each common
# intersects long posting lists: the first test spares the common queries
# that cost).
EXHAUSTIVE_MATCHES = 2_000
RECENT_CANDIDATES = 200
RECENT_WINDOW = 5_000


@asks_the_marts
def search(conn: psycopg.Connection, text: str, limit: int = 20) -> Rows:
    """Papers matching `text` (web-search syntax: quotes, or, -word), best first; the title weighs more.

    A common query (see RECENT_WINDOW) ranks its RECENT_CANDIDATES most
    recently seen matches; any other, every match.
    """
    # The query is written into the statement as a literal: planned with its
    # value, PostgreSQL's statistics on the documents tell a rare word from a
    # common one, and it picks the GIN index or the recency index accordingly.
    query = sql.SQL("websearch_to_tsquery('english', {})").format(sql.Literal(text))
    recent_only = _count(
        conn, RECENT_MATCHES, query=query, limit=RECENT_CANDIDATES, window=RECENT_WINDOW
    ) >= RECENT_CANDIDATES or (
        _count(conn, MATCHES, query=query, limit=EXHAUSTIVE_MATCHES + 1) > EXHAUSTIVE_MATCHES
    )
    ranked = SEARCH.format(
        query=query,
        candidates=RECENT_ONLY.format(sql.Literal(RECENT_CANDIDATES))
        if recent_only
        else sql.SQL(""),
        limit=sql.Literal(limit),
    )
    with conn.transaction():
        if recent_only:
            # Matches are dense (just found), but the planner multiplies the
            # words' frequencies as if independent and, for `state space
            # models`, expects few: it would fetch all 50k matches, or scan the
            # table, to sort them. Walking the recency index is what is wanted.
            conn.execute("set local enable_bitmapscan = off")
            conn.execute("set local enable_seqscan = off")
        return _rows(conn.execute(ranked))


def has_search_words(conn: psycopg.Connection, text: str) -> bool:
    """Whether `text` keeps a word to search for: English stop words and punctuation alone
    ("the", "of a", "!!!") keep none, and match nothing."""
    # the server says so in a notice, which no one sees: asked here so the CLI can say it
    return conn.execute(
        "select numnode(websearch_to_tsquery('english', %s)) > 0", [text]
    ).fetchone()[0]


SEARCH = sql.SQL(
    """
    with candidates as (
        select documents.paper_id, documents.title, documents.search_document
        from analytics.dim_paper_search_documents as documents
        where documents.search_document @@ {query}
        {candidates}
    ),
    ranked as (
        select
            candidates.paper_id,
            candidates.title,
            ts_rank_cd(candidates.search_document, {query}) as rank
        from candidates
        order by rank desc, candidates.title
        limit {limit}
    )
    -- the rest of what search shows, for the few papers it shows
    select
        ranked.paper_id,
        ranked.title,
        round(ranked.rank::numeric, 4) as rank,
        papers.published_on,
        papers.listing_count
    from ranked
    inner join analytics.dim_papers as papers on papers.paper_id = ranked.paper_id
    order by ranked.rank desc, ranked.title
    """
)
RECENT_ONLY = sql.SQL("order by documents.last_seen_at desc limit {}")
# How many papers match, counted up to a limit: all of them, and those among the most recently seen.
MATCHES = sql.SQL(
    "select count(*) from (select 1 from analytics.dim_paper_search_documents"
    " where search_document @@ {query} limit {limit}) as matches"
)
RECENT_MATCHES = sql.SQL(
    """
    select count(*) from (
        select 1
        from (
            select search_document from analytics.dim_paper_search_documents
            order by last_seen_at desc limit {window}
        ) as recent
        where recent.search_document @@ {query}
        limit {limit}
    ) as matches
    """
)


def _count(
    conn: psycopg.Connection, statement: sql.SQL, query: sql.Composable, **numbers: int
) -> int:
    row = conn.execute(
        statement.format(query=query, **{name: sql.Literal(n) for name, n in numbers.items()})
    ).fetchone()
    return row[0] if row else 0


@dataclass
class PaperReport:
    paper: Rows
    keywords: Rows
    variants: Rows
    sightings: Rows


# A short id is a paper_id's first hex digits, as many as make it unique,
# and never fewer than SHORT_ID_DIGITS: a table shows it where a full uuid
# (36 characters) would wrap, and `paperhouse paper` takes it back.
SHORT_ID_DIGITS = 8
MIN_PREFIX_DIGITS = 4
NEIGHBOURS = """
select
    ids.paper_id,
    (select paper_id from analytics.dim_papers where paper_id < ids.paper_id
     order by paper_id desc limit 1),
    (select paper_id from analytics.dim_papers where paper_id > ids.paper_id
     order by paper_id limit 1)
from unnest(%s::uuid[]) as ids (paper_id)
"""


class AmbiguousId(QueryFailed):
    """A paper id prefix that more than one paper starts with."""


def short_ids(conn: psycopg.Connection, paper_ids: list[UUID]) -> dict[UUID, str]:
    """Each paper's shortest unique prefix of at least SHORT_ID_DIGITS hex digits.

    Found from its two neighbours in the paper_id index, in one query: two
    index lookups a paper, whatever the warehouse's size.
    """
    shown = {}
    for paper_id, before, after in conn.execute(NEIGHBOURS, [paper_ids]):
        digits = paper_id.hex
        shared = max(
            (
                common_prefix_length(digits, other.hex)
                for other in (before, after)
                if other is not None
            ),
            default=0,
        )
        shown[paper_id] = digits[: max(SHORT_ID_DIGITS, shared + 1)]
    return shown


def with_short_ids(conn: psycopg.Connection, rows: Rows) -> Rows:
    """`rows` with their paper_id column as short ids (short_ids), named `paper`: for a table."""
    at = rows.columns.index("paper_id")
    shown = short_ids(conn, [row[at] for row in rows.rows])
    return Rows(
        [*rows.columns[:at], "paper", *rows.columns[at + 1 :]],
        [(*row[:at], shown[row[at]], *row[at + 1 :]) for row in rows.rows],
    )


def common_prefix_length(a: str, b: str) -> int:
    return next((i for i, (x, y) in enumerate(zip(a, b, strict=True)) if x != y), len(a))


def resolve_paper_id(
    conn: psycopg.Connection, given: str, min_digits: int = MIN_PREFIX_DIGITS
) -> UUID | None:
    """The paper a full paper_id or a unique prefix of its hex digits (dashes optional) names; None
    when none does. Raises AmbiguousId when several papers start with it."""
    digits = given.strip().lower().replace("-", "")
    if not min_digits <= len(digits) <= 32 or any(c not in "0123456789abcdef" for c in digits):
        return None
    # a prefix is the range of ids between its two paddings: the index finds them
    found = conn.execute(
        "select paper_id from analytics.dim_papers where paper_id between %s and %s "
        "order by paper_id limit 2",
        [UUID(digits.ljust(32, "0")), UUID(digits.ljust(32, "f"))],
    ).fetchall()
    if len(found) > 1:
        first, second = found[0][0].hex, found[1][0].hex
        apart = common_prefix_length(first, second) + 1
        raise AmbiguousId(
            f"more than one paper's id starts with {given!r}: give more of it "
            f"(e.g. {first[:apart]} or {second[:apart]})"
        )
    return found[0][0] if found else None


@asks_the_marts
def paper(conn: psycopg.Connection, given_id: str) -> PaperReport | None:
    """One paper with its keywords, title variants and every file and position it was seen in.

    `given_id` is its paper_id or a unique prefix of it (resolve_paper_id).
    """
    paper_id = resolve_paper_id(conn, given_id)
    if paper_id is None:
        return None
    found = _rows(
        conn.execute(
            """
            select paper_id, title, abstract, authors_count, organization, published_on,
                   upvotes, max_upvotes, listing_count, file_count, first_seen_at, last_seen_at,
                   first_scraped_on
            from analytics.dim_papers where paper_id = %s
            """,
            [paper_id],
        )
    )
    if not found.rows:
        return None
    return PaperReport(
        paper=found,
        keywords=_rows(
            conn.execute(
                "select rank, display_keyword as keyword, score, in_title, occurrences "
                "from analytics.fct_paper_keywords where paper_id = %s order by rank",
                [paper_id],
            )
        ),
        variants=_rows(
            conn.execute(
                "select title, listing_count, first_seen_at from analytics.dim_paper_title_variants "
                "where paper_id = %s order by listing_count desc, first_seen_at",
                [paper_id],
            )
        ),
        sightings=_rows(
            conn.execute(
                """
                select files.file_name, facts.file_id, facts.position, facts.line_number,
                       facts.title, facts.upvotes, facts.scraped_on, facts.ingested_at
                from analytics.fct_paper_listings as facts
                join raw.ingested_files as files using (file_id)
                where facts.paper_id = %s
                order by facts.scraped_on, files.file_name collate "C", files.sha256, facts.position
                """,
                [paper_id],
            )
        ),
    )


@asks_the_marts
def top_keywords(conn: psycopg.Connection, top: int = 20, month: date | None = None) -> Rows:
    """The keywords most papers carry, overall or in one month, as their papers write them."""
    if month is None:
        cursor = conn.execute(
            "select display_keyword as keyword, paper_count, first_seen_at, last_seen_at "
            "from analytics.dim_keywords order by paper_count desc, keyword limit %s",
            [top],
        )
    else:
        cursor = conn.execute(
            "select coalesce(shown.display_keyword, monthly.keyword) as keyword, "
            "monthly.paper_count, monthly.month "
            "from analytics.fct_keyword_monthly as monthly "
            "left join analytics.dim_keywords as shown using (keyword) "
            "where monthly.month = %s order by monthly.paper_count desc, monthly.keyword limit %s",
            [month.replace(day=1), top],
        )
    return _rows(cursor)


@asks_the_marts
def keyword_months(conn: psycopg.Connection) -> tuple[date, date] | None:
    """The first and the last month any paper carries a keyword in, or None before any."""
    first, last = conn.execute(
        "select min(month), max(month) from analytics.fct_keyword_monthly"
    ).fetchone()  # type: ignore[misc]
    return None if first is None else (first, last)


@asks_the_marts
def trending_keywords(conn: psycopg.Connection, top: int = 20) -> Rows:
    """Keywords rising fastest from the month before to the latest month with papers."""
    cursor = conn.execute(
        """
        with latest as (select max(month) as month from analytics.fct_keyword_monthly),
        counts as (
            select
                monthly.keyword,
                sum(monthly.paper_count) filter (where monthly.month = latest.month) as this_month,
                sum(monthly.paper_count) filter (
                    where monthly.month = (latest.month - interval '1 month')::date
                ) as last_month
            from analytics.fct_keyword_monthly as monthly, latest
            where monthly.month >= (latest.month - interval '1 month')::date
            group by monthly.keyword
        )
        select
            coalesce(shown.display_keyword, counts.keyword) as keyword,
            coalesce(this_month, 0) as this_month,
            coalesce(last_month, 0) as last_month,
            coalesce(this_month, 0) - coalesce(last_month, 0) as rise,
            (select month from latest) as month
        from counts
        left join analytics.dim_keywords as shown using (keyword)
        where coalesce(this_month, 0) > coalesce(last_month, 0)
        order by rise desc, this_month desc, counts.keyword
        limit %s
        """,
        [top],
    )
    return _rows(cursor)


def _rows(cursor: psycopg.Cursor) -> Rows:
    columns = [column.name for column in cursor.description or []]
    return Rows(columns, cursor.fetchall())

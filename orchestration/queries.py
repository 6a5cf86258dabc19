"""Questions users ask the warehouse: read-only SQL, search, one paper, keywords, trends.

Every function takes an open connection and returns a `Rows` (column names
and rows), which orchestration/output.py renders as a table, CSV or JSON.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

import psycopg

DEFAULT_TIMEOUT_SECONDS = 30.0


class ReadOnlyViolation(RuntimeError):
    """A statement tried to change the warehouse; the message says what to do instead."""


class QueryFailed(RuntimeError):
    """The warehouse refused or could not run a query; the message is PostgreSQL's."""


@dataclass
class Rows:
    columns: list[str]
    rows: list[tuple[Any, ...]] = field(default_factory=list)


def run_read_only(
    conn: psycopg.Connection, query: str, timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS
) -> Rows:
    """Run one statement in a READ ONLY transaction with a statement timeout.

    The statement is prepared, so it is exactly one statement: `select 1;
    commit; drop ...` is refused before anything runs. Writes, DDL and
    functions that write (nextval, ...) fail in the read-only transaction,
    however deep in a CTE or function call they hide.
    """
    try:
        with conn.transaction():
            conn.execute("set transaction read only")
            conn.execute(
                "select set_config('statement_timeout', %s, true)", [f"{int(timeout_seconds * 1000)}ms"]
            )
            cursor = conn.cursor()
            # a trailing `;` is how people end statements, not a second one
            cursor.execute(query.strip().rstrip(";"), prepare=True)  # type: ignore[call-overload]
            if cursor.description is None:
                return Rows(columns=[], rows=[])
            return Rows([column.name for column in cursor.description], cursor.fetchall())
    except psycopg.errors.ReadOnlySqlTransaction as exc:
        raise ReadOnlyViolation(
            f"refused: paperhouse sql only reads ({_first_line(exc)}). "
            "The warehouse changes through paperhouse ingest and build."
        ) from exc
    except psycopg.errors.QueryCanceled as exc:
        raise QueryFailed(f"the query ran longer than {timeout_seconds:g}s and was cancelled") from exc
    except psycopg.OperationalError:
        raise  # the warehouse itself is gone: the caller says so
    except psycopg.Error as exc:
        if "multiple commands" in str(exc):
            raise ReadOnlyViolation("refused: paperhouse sql takes one statement at a time") from exc
        raise QueryFailed(_first_line(exc)) from exc


def search(conn: psycopg.Connection, text: str, limit: int = 20) -> Rows:
    """Papers matching `text` (web-search syntax: quotes, or, -word), best first; the title weighs more."""
    cursor = conn.execute(
        """
        with query as (select websearch_to_tsquery('english', %(text)s) as q)
        select
            papers.paper_id,
            papers.title,
            round(ts_rank_cd(papers.search_document, query.q)::numeric, 4) as rank,
            papers.published_on,
            papers.listing_count
        from analytics.dim_papers as papers, query
        where papers.search_document @@ query.q
        order by ts_rank_cd(papers.search_document, query.q) desc, papers.title
        limit %(limit)s
        """,
        {"text": text, "limit": limit},
    )
    return _rows(cursor)


@dataclass
class PaperReport:
    paper: Rows
    keywords: Rows
    variants: Rows
    sightings: Rows


def paper(conn: psycopg.Connection, paper_id: str) -> PaperReport | None:
    """One paper with its keywords, title variants and every file and position it was seen in."""
    try:
        found = _rows(
            conn.execute(
                """
                select paper_id, title, abstract, authors_count, organization, published_on,
                       upvotes, max_upvotes, listing_count, file_count, first_seen_at, last_seen_at
                from analytics.dim_papers where paper_id = %s
                """,
                [paper_id],
            )
        )
    except psycopg.errors.InvalidTextRepresentation:
        return None  # not a uuid
    if not found.rows:
        return None
    return PaperReport(
        paper=found,
        keywords=_rows(
            conn.execute(
                "select rank, keyword, score, in_title, occurrences from analytics.fct_paper_keywords "
                "where paper_id = %s order by rank",
                [paper_id],
            )
        ),
        variants=_rows(
            conn.execute(
                "select title, listing_count, first_seen_at from analytics.paper_title_variants "
                "where paper_id = %s order by listing_count desc, first_seen_at",
                [paper_id],
            )
        ),
        sightings=_rows(
            conn.execute(
                """
                select files.file_name, facts.file_id, facts.position, facts.line_number,
                       facts.title, facts.upvotes, facts.loaded_at
                from analytics.fct_paper_listings as facts
                join raw.ingested_files as files using (file_id)
                where facts.paper_id = %s
                order by facts.ingest_seq, facts.position
                """,
                [paper_id],
            )
        ),
    )


def top_keywords(conn: psycopg.Connection, top: int = 20, month: date | None = None) -> Rows:
    """The keywords most papers carry, overall or in one month."""
    if month is None:
        cursor = conn.execute(
            "select keyword, paper_count, first_seen_at, last_seen_at from analytics.dim_keywords "
            "order by paper_count desc, keyword limit %s",
            [top],
        )
    else:
        cursor = conn.execute(
            "select keyword, paper_count, month from analytics.fct_keyword_monthly "
            "where month = %s order by paper_count desc, keyword limit %s",
            [month.replace(day=1), top],
        )
    return _rows(cursor)


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
            keyword,
            coalesce(this_month, 0) as this_month,
            coalesce(last_month, 0) as last_month,
            coalesce(this_month, 0) - coalesce(last_month, 0) as rise,
            (select month from latest) as month
        from counts
        where coalesce(this_month, 0) > coalesce(last_month, 0)
        order by rise desc, this_month desc, keyword
        limit %s
        """,
        [top],
    )
    return _rows(cursor)


def _rows(cursor: psycopg.Cursor) -> Rows:
    columns = [column.name for column in cursor.description or []]
    return Rows(columns, cursor.fetchall())


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__

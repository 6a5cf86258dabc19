"""What a warehouse holds, in terms that the same inbox fixes: no surrogate ids, no commit numbers,
no timestamps. Two warehouses built from the same files, however and whenever, compare equal."""

from __future__ import annotations

from typing import Any

import psycopg

# Each query names a file by its bytes (sha256) rather than its file_id.
RAW = {
    "files": """
        select file_name, file_name_bytes, sha256, size_bytes, status, listing_count, error,
               layout, encoding, scraped_on,
               (select original.sha256 from raw.ingested_files as original
                where original.file_id = files.duplicate_of) as duplicate_of
        from raw.ingested_files as files
    """,
    "listings": """
        select files.sha256, listings.position, listings.line_number, listings.title, listings.abstract,
               listings.authors_count, listings.organization, listings.published_text,
               listings.published_on, listings.upvotes
        from raw.paper_listings as listings
        join raw.ingested_files as files using (file_id)
    """,
}

MARTS = {
    "dim_papers": """
        select papers.paper_id, papers.title, papers.abstract, files.sha256, papers.abstract_position,
               papers.authors_count, papers.organization, papers.published_on, papers.upvotes,
               papers.max_upvotes, papers.first_scraped_on, papers.listing_count, papers.file_count
        from analytics.dim_papers as papers
        join raw.ingested_files as files on files.file_id = papers.abstract_file_id
    """,
    "fct_paper_listings": """
        select facts.paper_id, files.sha256, facts.position, facts.line_number, facts.title,
               facts.title_key, facts.abstract_length, facts.authors_count, facts.organization,
               facts.published_text, facts.published_on, facts.upvotes, facts.scraped_on
        from analytics.fct_paper_listings as facts
        join raw.ingested_files as files using (file_id)
    """,
    "paper_title_variants": "select paper_id, title, title_key, listing_count from analytics.paper_title_variants",
    "paper_search_documents": "select paper_id, title, search_document::text from analytics.paper_search_documents",
    "fct_paper_keywords": """
        select paper_id, keyword, score, rank, in_title, occurrences, trend_month
        from analytics.fct_paper_keywords
    """,
    "dim_keywords": "select keyword, paper_count from analytics.dim_keywords",
    "fct_keyword_monthly": "select keyword, month, paper_count from analytics.fct_keyword_monthly",
}


def _snapshot(url: str, queries: dict[str, str]) -> dict[str, list[tuple[Any, ...]]]:
    with psycopg.connect(url) as conn:
        return {
            name: sorted(conn.execute(query).fetchall(), key=repr)
            for name, query in queries.items()
        }


def raw_snapshot(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """The ledger and the listings."""
    return _snapshot(url, RAW)


def mart_snapshot(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every mart."""
    return _snapshot(url, MARTS)

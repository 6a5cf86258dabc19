"""What a warehouse holds, in terms that the same inbox fixes: no surrogate ids, no commit numbers,
no timestamps. Two warehouses built from the same files, however and whenever, compare equal."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import sql

from orchestration.models.manifest import marts

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


def mart_query(conn: psycopg.Connection, mart: str) -> sql.Composed:
    """Every column of `mart` that the inbox fixes: a file id as its file's SHA-256; no
    timestamps (`*_at`), no commit numbers (`*ingest_seq`)."""
    columns = [
        name
        for (name,) in conn.execute(
            "select column_name from information_schema.columns "
            "where table_schema = 'analytics' and table_name = %s order by ordinal_position",
            [mart],
        )
    ]
    selected = []
    for name in columns:
        if name.endswith(("_at", "ingest_seq")):
            continue
        if name == "file_id" or name.endswith("_file_id"):
            selected.append(
                sql.SQL(
                    "(select sha256 from raw.ingested_files as f where f.file_id = m.{})"
                ).format(sql.Identifier(name))
            )
        elif name == "search_document":
            selected.append(sql.SQL("m.search_document::text"))
        else:
            selected.append(sql.SQL("m.{}").format(sql.Identifier(name)))
    return sql.SQL("select {} from analytics.{} as m").format(
        sql.SQL(", ").join(selected), sql.Identifier(mart)
    )


def raw_snapshot(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """The ledger and the listings."""
    with psycopg.connect(url) as conn:
        return {
            name: sorted(conn.execute(query).fetchall(), key=repr) for name, query in RAW.items()
        }


def mart_snapshot(url: str, every_column: bool = False) -> dict[str, list[tuple[Any, ...]]]:
    """Every mart but the histories (which keep each build's version by design). With
    `every_column`, timestamps, commit numbers and file ids too: equal only within one warehouse."""
    with psycopg.connect(url) as conn:
        return {
            mart.name: sorted(
                conn.execute(
                    sql.SQL("select * from analytics.{}").format(sql.Identifier(mart.name))
                    if every_column
                    else mart_query(conn, mart.name)
                ).fetchall(),
                key=repr,
            )
            for mart in marts()
            if not mart.append_only
        }

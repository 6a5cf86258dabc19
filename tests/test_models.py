"""The dbt project built on a real database: deduplicated papers and their audit trail."""

from __future__ import annotations

import os
from datetime import date, datetime

import psycopg

from conftest import SEED_DISTINCT_TITLES, SEED_LISTINGS, fresh_database
from orchestration.build import build, dbt_env
from orchestration.ingest.batch import ingest_paths

ABSTRACT = "A study of merging titles that differ in their spelling, at enough length. " * 8


def ingest(url, *paths):
    return ingest_paths(url, list(paths), settle_seconds=0)


def built(url):
    summary = build(url, quiet=True)
    assert summary.succeeded, summary.failures
    return summary


def scalar(conn, sql, params=()):
    return conn.execute(sql, params).fetchone()[0]


def test_dbt_env_passes_the_cli_connection_to_the_profile():
    env = dbt_env("postgresql://ana:s3cret@db.example:6543/wh?sslmode=require", {"PATH": "/bin"})
    assert (env["PAPERHOUSE_DBT_HOST"], env["PAPERHOUSE_DBT_PORT"], env["PAPERHOUSE_DBT_USER"]) == (
        "db.example", "6543", "ana",
    )
    assert (env["PAPERHOUSE_DBT_PASSWORD"], env["PAPERHOUSE_DBT_DBNAME"]) == ("s3cret", "wh")
    assert env["PAPERHOUSE_DBT_SSLMODE"] == "require"
    assert env["DBT_SEND_ANONYMOUS_USAGE_STATS"] == "false"
    assert env["PATH"].endswith(os.pathsep + "/bin")


def test_the_samples_build_into_558_papers(db_url, conn, inbox):
    ingest(db_url, inbox)
    built(db_url)
    assert scalar(conn, "select count(*) from analytics.dim_papers") == SEED_DISTINCT_TITLES
    assert scalar(conn, "select count(*) from analytics.fct_paper_listings") == SEED_LISTINGS
    assert scalar(conn, "select sum(listing_count) from analytics.dim_papers") == SEED_LISTINGS
    assert scalar(conn, "select count(*) from analytics.paper_title_variants") == SEED_DISTINCT_TITLES
    # every listing maps to exactly one paper that exists
    orphans = scalar(
        conn,
        "select count(*) from analytics.fct_paper_listings f "
        "left join analytics.dim_papers p using (paper_id) where p.paper_id is null",
    )
    assert orphans == 0
    # a paper seen in four files
    row = conn.execute(
        "select listing_count, file_count from analytics.dim_papers "
        "where title = 'A Practical Survey on Faster and Lighter Transformers'"
    ).fetchone()
    assert row == (4, 4)


def write_page(path, records, page_date="Dec 11", mtime=None):
    """A metadata-layout page: records are (title, date line) pairs."""
    header = "new\n\nDaily Papers\n\n" + page_date
    body = "".join(f"\n\n{title}\n\n{ABSTRACT}\n\n  • 3 authors\n·\n{when}" for title, when in records)
    path.write_text(header + body, encoding="utf-8")
    stamp = (mtime or datetime(2026, 11, 21, 12)).timestamp()
    os.utime(path, (stamp, stamp))


def test_title_variants_merge_and_numeral_variants_stay_apart(db_url, conn, tmp_path):
    merging = [
        "Long-Range Fréchet Networks",
        "long range  FRECHET networks.",
        "Long Range Frechet Networks",
        "Long-Range Fréchet Networks",
        "LONG-RANGE FRÉCHET NETWORKS!",
    ]
    apart = ["Long-Range Fréchet Networks II", "Llama 2", "Llama 3", "Yi", "Yi 1.5"]
    write_page(tmp_path / "a.txt", [(title, "Oct 6 2") for title in merging + apart])
    ingest(db_url, tmp_path / "a.txt")
    built(db_url)
    papers = dict(conn.execute("select title, listing_count from analytics.dim_papers").fetchall())
    # the merged paper shows its most frequent form; every numeral variant is its own paper
    assert papers == {"Long-Range Fréchet Networks": 5, **{title: 1 for title in apart}}
    variants = conn.execute(
        "select v.title, v.listing_count from analytics.paper_title_variants v "
        "join analytics.dim_papers p using (paper_id) where p.title = 'Long-Range Fréchet Networks' "
        "order by v.title"
    ).fetchall()
    assert [title for title, _ in variants] == sorted(set(merging))
    assert sum(count for _, count in variants) == 5


def test_display_title_ties_go_to_the_form_seen_first(db_url, conn, tmp_path):
    write_page(tmp_path / "1.txt", [("Sparse Attention, Revisited", "Oct 6 2")])
    write_page(tmp_path / "2.txt", [("Sparse attention revisited", "Oct 6 2")])
    ingest(db_url, tmp_path / "1.txt")
    ingest(db_url, tmp_path / "2.txt")
    built(db_url)
    assert scalar(conn, "select title from analytics.dim_papers") == "Sparse Attention, Revisited"


def test_upvotes_follow_the_most_recently_ingested_listing_with_a_count(db_url, conn, tmp_path):
    title = "Upvoted Paper"
    write_page(tmp_path / "1.txt", [(title, "Oct 6 9")])
    write_page(tmp_path / "2.txt", [(title, "Oct 6 4"), ("Other Paper", "Oct 6 1")])
    write_page(tmp_path / "3.txt", [(title, "Oct 6, 2025")])  # no count: does not override
    for name in ("1.txt", "2.txt", "3.txt"):
        ingest(db_url, tmp_path / name)
    built(db_url)
    row = conn.execute(
        "select upvotes, max_upvotes, listing_count, file_count, published_on "
        "from analytics.dim_papers where title = %s",
        [title],
    ).fetchone()
    assert row == (4, 9, 3, 3, date(2025, 10, 6))


MARTS = ["dim_papers", "fct_paper_listings", "paper_title_variants"]


def snapshot(conn):
    """Every mart's rows, in a stable order, for exact comparison."""
    tables = {}
    for mart in MARTS:
        columns = [
            name
            for (name,) in conn.execute(
                "select column_name from information_schema.columns "
                "where table_schema = 'analytics' and table_name = %s order by ordinal_position",
                [mart],
            )
        ]
        # timestamps differ between databases (each ingested separately): compare the rest
        kept = [c for c in columns if not c.endswith("_at")]
        tables[mart] = conn.execute(
            f"select {', '.join(kept)} from analytics.{mart} order by {', '.join(kept)}"
        ).fetchall()
    return tables


def test_incremental_builds_equal_a_full_refresh(server_url, template_db, db_url, conn, inbox):
    # Warehouse A: a build after every file (incremental from the second on).
    files = sorted(inbox.iterdir())
    for path in files:
        ingest(db_url, path)
        built(db_url)
    incremental = snapshot(conn)

    # Warehouse B: the same files, one full-refresh build at the end.
    with fresh_database(server_url, template_db) as other_url:
        ingest(other_url, *files)
        assert build(other_url, full_refresh=True, quiet=True).succeeded
        with psycopg.connect(other_url, autocommit=True) as other_conn:
            full = snapshot(other_conn)

    assert incremental == full
    assert len(full["dim_papers"]) == SEED_DISTINCT_TITLES

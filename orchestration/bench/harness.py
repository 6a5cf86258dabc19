"""`paperhouse bench`: how fast paperhouse is at N listings, beside the machine's own limits.

Everything runs in one go on a fresh server (embedded, or the one at
PAPERHOUSE_DATABASE_URL, where it creates and drops its own databases):

1. ingest of a synthetic inbox of N listings, end to end, in a child process
   (its peak RSS from /proc), beside a bare COPY of the same rows into an
   empty copy of raw.paper_listings: the physical limit of loading them.
   Three alternating rounds, each from a checkpointed server and synced
   disks; the medians are reported (one round's ratio moved by 30%);
2. peak RSS of ingesting one file of 500 MB (memory must not follow file size);
3. the features step (keyphrases, search documents) and a full `dbt build` over the N listings;
4. `paperhouse run` after one new 200-listing file, on 10k listings and on N;
5. p50/p95 latency of search, top keywords and a one-paper lookup at N;
6. peak RSS of exporting the marts to Parquet (memory must not follow the marts' size).

Measurements are numbers with their targets (issue 6); a benchmark is never
a timed test: tests run it at a tiny N and check only that it is right.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

import psycopg
from psycopg import sql

from orchestration import queries
from orchestration.bench.corpus import big_file_chunks, generate_files
from orchestration.features import extract_pending
from orchestration.ingest.load import LISTING_COLUMNS
from orchestration.models.runner import RUN_RESULTS
from orchestration.pipeline import build_models
from orchestration.settings import ENVIRONMENT_VARIABLES
from orchestration.warehouse import connect
from orchestration.warehouse.embedded import EmbeddedServer
from orchestration.warehouse.migrations import apply_migrations

SMALL_WAREHOUSE = 10_000
NEW_FILE_LISTINGS = 200
BIG_FILE_BYTES = 500 * 1024 * 1024
QUERY_REPEATS = 40
DATABASES = ("bench_main", "bench_small", "bench_big_file", "bench_ingest_round")
INGEST_ROUNDS = 3
# An hour old: the inbox's settle time never holds the corpus back.
CORPUS_MTIME_AGE_SECONDS = 3600


@dataclass
class Measurement:
    name: str
    value: float
    unit: str
    target: str | None = None
    met: bool | None = None


@dataclass
class BenchReport:
    listings: int
    machine: dict[str, str]
    measurements: list[Measurement] = field(default_factory=list)
    checks: dict[str, int] = field(default_factory=dict)  # counts that must come out exact

    def add(
        self, name: str, value: float, unit: str, target: str | None = None, met: bool | None = None
    ) -> float:
        self.measurements.append(Measurement(name, value, unit, target, met))
        return value

    def as_json(self) -> dict:
        return asdict(self)


def run_bench(
    listings: int,
    *,
    big_file_bytes: int = BIG_FILE_BYTES,
    small_listings: int = SMALL_WAREHOUSE,
    workdir: Path | None = None,
    log: Callable[[str], None] = lambda message: None,
) -> BenchReport:
    """Run every stage at `listings` listings and return the measurements."""
    with _workdir(workdir) as work, bench_server(work / "server") as server_url:
        report = BenchReport(listings=listings, machine=describe_machine(server_url))
        urls = {name: _fresh_database(server_url, name) for name in DATABASES}
        try:
            _run_stages(
                report, server_url, urls, work, listings, small_listings, big_file_bytes, log
            )
        finally:
            for name in DATABASES:
                _drop_database(server_url, name)
        return report


def _run_stages(
    report: BenchReport,
    server_url: str,
    urls: dict[str, str],
    work: Path,
    listings: int,
    small_listings: int,
    big_file_bytes: int,
    log: Callable[[str], None],
) -> None:
    main, small = urls["bench_main"], urls["bench_small"]

    log(f"writing a synthetic inbox of {listings:,} listings")
    inbox = work / "inbox"
    expected_papers = write_corpus(inbox, listings, seed=1)
    report.checks["expected_papers"] = expected_papers

    log(f"1. ingest, end to end, and a bare COPY of the same rows ({INGEST_ROUNDS} rounds)")
    rounds = []
    rows = work / "listings.copy"
    for round_number in range(INGEST_ROUNDS):
        # The first round fills the warehouse the later stages use; the others a scratch database.
        target = main if round_number == 0 else _fresh_database(server_url, "bench_ingest_round")
        settle(server_url)
        ingest = ingest_in_child(target, inbox)
        if round_number == 0:
            dump_listings(main, rows)
        rounds.append((ingest, bare_copy_rate(main, rows)))
        if round_number:
            _drop_database(server_url, "bench_ingest_round")
    ingest_rates = [ingest["listings"] / ingest["seconds"] for ingest, _ in rounds]
    report.add("ingest throughput", statistics.median(ingest_rates), "listings/s")
    report.add(
        "ingest throughput (bytes)",
        statistics.median(ingest["bytes"] / ingest["seconds"] / 1e6 for ingest, _ in rounds),
        "MB/s",
    )
    report.add(
        "bare COPY of the same rows", statistics.median(rate for _, rate in rounds), "rows/s"
    )
    ratio = statistics.median(
        rate / copy_rate for rate, (_, copy_rate) in zip(ingest_rates, rounds, strict=True)
    )
    report.add("ingest / bare COPY", ratio, "ratio", ">= 0.60", ratio >= 0.60)
    for round_number, (rate, (_, copy_rate)) in enumerate(
        zip(ingest_rates, rounds, strict=True), 1
    ):
        report.add(f"  round {round_number}: ingest / bare COPY", rate / copy_rate, "ratio")
    dump_listings(main, rows, binary=True)
    report.add(
        "bare COPY, binary format (context)", bare_copy_rate(main, rows, binary=True), "rows/s"
    )
    rows.unlink()
    peak = max(ingest["max_rss_mb"] for ingest, _ in rounds)
    report.add("ingest peak RSS", peak, "MB", "< 300", peak < 300)
    report.checks["listings_loaded"] = rounds[0][0]["listings"]

    log(f"2. ingest of one {big_file_bytes / 2**20:,.0f} MB file")
    big_inbox = work / "big-inbox"
    big_inbox.mkdir()
    with open(big_inbox / "big.txt", "w", encoding="utf-8") as out:
        for chunk in big_file_chunks(big_file_bytes):
            out.write(chunk)
    _age(big_inbox / "big.txt")
    big = ingest_in_child(urls["bench_big_file"], big_inbox)
    report.add(
        "one-file ingest peak RSS", big["max_rss_mb"], "MB", "< 300", big["max_rss_mb"] < 300
    )
    report.add("one-file size", big["bytes"] / 2**20, "MB")
    shutil.rmtree(big_inbox)

    log("3. features step and full dbt build")
    started = time.perf_counter()
    extracted = extract_pending(main)
    seconds = time.perf_counter() - started
    report.add("features step", seconds, "s")
    report.add("features step throughput", extracted.listings / seconds, "listings/s")
    started = time.perf_counter()
    summary = build_models(main, full_refresh=True, quiet=True).dbt
    seconds = time.perf_counter() - started
    if not summary.succeeded:
        raise RuntimeError(f"the full dbt build failed: {summary.failures}")
    report.add("full dbt build", seconds, "s", "< 120", seconds < 120)
    for model, model_seconds in slowest_models(5):
        report.add(f"  {model}", model_seconds, "s")
    with connect(main) as conn:
        report.checks["papers_built"] = conn.execute(
            "select count(*) from analytics.dim_papers"
        ).fetchone()[0]

    log(f"4. paperhouse run after one new file, at {small_listings:,} and {listings:,} listings")
    small_inbox = work / "small-inbox"
    write_corpus(small_inbox, small_listings, seed=2)
    ingest_in_child(small, small_inbox)
    extract_pending(small)
    if not build_models(small, quiet=True).succeeded:
        raise RuntimeError("the build of the small warehouse failed")
    at_small = run_after_new_file(small, small_inbox)
    at_n = run_after_new_file(main, inbox)
    report.add(f"paperhouse run, one new file, {small_listings:,} listings", at_small, "s")
    report.add(f"paperhouse run, one new file, {listings:,} listings", at_n, "s", "< 10", at_n < 10)
    report.add("run at N / run at 10k", at_n / at_small, "ratio", "<= 1.5", at_n / at_small <= 1.5)

    log("5. query latency")
    for name, p50, p95 in query_latencies(main):
        report.add(f"{name} p50", p50, "ms")
        report.add(f"{name} p95", p95, "ms", "< 50", p95 < 50)

    log("6. export of the marts to Parquet")
    with connect(main) as conn:  # stage 4 added a file since the count above
        report.checks["papers_at_export"] = conn.execute(
            "select count(*) from analytics.dim_papers"
        ).fetchone()[0]
    exported = in_child("export", main, work / "export")
    report.add("export to Parquet", exported["seconds"], "s")
    report.add("export to Parquet, size", exported["bytes"] / 2**20, "MB")
    peak = exported["max_rss_mb"]
    report.add("export to Parquet, peak RSS", peak, "MB", "< 300", peak < 300)
    report.checks["papers_exported"] = exported["rows"]["dim_papers"]
    shutil.rmtree(work / "export")


# ---------- the stages' parts


def write_corpus(folder: Path, listings: int, seed: int, first_paper: int = 0) -> int:
    """Write the synthetic inbox; return how many distinct papers it holds."""
    folder.mkdir(parents=True, exist_ok=True)
    papers = 0
    for file in generate_files(listings, seed=seed, first_paper=first_paper):
        path = folder / file.name
        path.write_text(file.text, encoding="utf-8")
        _age(path)
        papers += file.new_papers
    return papers


def _age(path: Path) -> None:
    stamp = time.time() - CORPUS_MTIME_AGE_SECONDS
    os.utime(path, (stamp, stamp))


def ingest_in_child(url: str, folder: Path) -> dict:
    """Ingest `folder` in a child process; its own timing and peak RSS (orchestration.bench.child)."""
    return in_child("ingest", url, folder)


def in_child(task: str, url: str, folder: Path) -> dict:
    """orchestration.bench.child's `task` in a process of its own; what it measured."""
    done = subprocess.run(
        [sys.executable, "-m", "orchestration.bench.child", task, url, str(folder)],
        stdout=subprocess.PIPE,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"the {task} child failed with code {done.returncode}")
    return json.loads(done.stdout)


def settle(url: str) -> None:
    """A checkpoint and a disk sync, so that a timing does not pay for the writes of what came before."""
    # a server of someone else's (PAPERHOUSE_DATABASE_URL) whose user may not checkpoint
    with connect(url) as conn, contextlib.suppress(psycopg.errors.InsufficientPrivilege):
        conn.execute("checkpoint")
    os.sync()


def dump_listings(url: str, scratch: Path, binary: bool = False) -> None:
    """The loaded rows into `scratch` with COPY TO: what a bare COPY loads."""
    options = " (format binary)" if binary else ""
    with (
        connect(url) as conn,
        open(scratch, "wb") as out,
        conn.cursor().copy(
            f"copy (select {LISTING_COLUMNS} from raw.paper_listings) to stdout{options}"
        ) as copy,
    ):
        for chunk in copy:
            out.write(chunk)


def bare_copy_rate(url: str, scratch: Path, binary: bool = False) -> float:
    """Rows/s of COPY FROM of the rows dumped in `scratch` into an empty twin of raw.paper_listings.

    Text format unless `binary`: ingest sends text, so text is the like-for-like limit.
    """
    options = " (format binary)" if binary else ""
    with connect(url) as conn:
        conn.execute("drop table if exists public.bare_copy")
        conn.execute("create table public.bare_copy (like raw.paper_listings including all)")
        settle(url)
        started = time.perf_counter()
        with (
            conn.transaction(),
            open(scratch, "rb") as rows,
            conn.cursor().copy(
                f"copy public.bare_copy ({LISTING_COLUMNS}) from stdin{options}"
            ) as copy,
        ):
            while chunk := rows.read(1024 * 1024):
                copy.write(chunk)
        seconds = time.perf_counter() - started
        count = conn.execute("select count(*) from public.bare_copy").fetchone()[0]
        conn.execute("drop table public.bare_copy")
    return count / seconds


def slowest_models(top: int) -> list[tuple[str, float]]:
    """The models of the last dbt run that took longest, from dbt's run_results.json."""
    results = json.loads(RUN_RESULTS.read_text()).get("results", [])
    timed = [
        (r["unique_id"].split(".")[-1], r["execution_time"])
        for r in results
        if r["unique_id"].startswith("model.")
    ]
    return sorted(timed, key=lambda item: -item[1])[:top]


def run_after_new_file(url: str, inbox: Path) -> float:
    """Wall time of `paperhouse run` (a new process, as a user or cron runs it) after one new file.

    A run with nothing new goes first, untimed: a scheduled run follows the
    last one on the same warehouse, whose dbt parse state it reuses. Without
    it, the measured run would re-parse the dbt project because the run
    before was on the other benchmark database (another dbt profile).
    """
    paperhouse_run(url, inbox)
    new_file = next(generate_files(NEW_FILE_LISTINGS, seed=7, first_paper=50_000_000))
    path = inbox / f"zz_new_{new_file.name}"
    path.write_text(new_file.text, encoding="utf-8")
    _age(path)
    started = time.perf_counter()
    paperhouse_run(url, inbox)
    return time.perf_counter() - started


def paperhouse_run(url: str, inbox: Path) -> None:
    env = {**os.environ, ENVIRONMENT_VARIABLES["database_url"]: url}
    done = subprocess.run(
        [str(Path(sys.executable).parent / "paperhouse"), "run", "--inbox", str(inbox)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"paperhouse run failed:\n{done.stdout}\n{done.stderr}")


def query_latencies(url: str) -> list[tuple[str, float, float]]:
    """(query, p50 ms, p95 ms) over repeated runs, on one connection as the CLI holds one."""
    terms = [
        "diffusion",
        "state space models",
        "graph neural networks",
        "quantization -video",
        '"preference optimization"',
        "robot manipulation",
        "federated",
        "segmentation",
    ]
    with connect(url) as conn:
        paper_ids = [
            row[0]
            for row in conn.execute(
                "select paper_id::text from analytics.dim_papers order by random() limit %s",
                [QUERY_REPEATS],
            )
        ]
        cases: dict[str, Callable[[int], object]] = {
            "search": lambda i: queries.search(conn, terms[i % len(terms)]),
            "top keywords": lambda i: queries.top_keywords(conn, top=20),
            "one paper": lambda i: queries.paper(conn, paper_ids[i % len(paper_ids)]),
        }
        results = []
        for name, run in cases.items():
            run(0)  # warm the connection's caches, as a second CLI call would find them
            timings = []
            for i in range(QUERY_REPEATS):
                started = time.perf_counter()
                run(i)
                timings.append((time.perf_counter() - started) * 1000)
            results.append(
                (name, statistics.median(timings), statistics.quantiles(timings, n=20)[18])
            )
        return results


# ---------- where it runs


@contextmanager
def _workdir(workdir: Path | None) -> Iterator[Path]:
    if workdir is not None:
        workdir.mkdir(parents=True, exist_ok=True)
        yield workdir
        return
    path = Path(tempfile.mkdtemp(prefix="paperhouse-bench-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@contextmanager
def bench_server(home: Path) -> Iterator[str]:
    """A server URL: PAPERHOUSE_DATABASE_URL's server if set, else a fresh embedded server."""
    external = os.environ.get(ENVIRONMENT_VARIABLES["database_url"])
    if external:
        yield external
        return
    server = EmbeddedServer(home)
    try:
        yield server.start()
    finally:
        server.stop()


def _database_url(server_url: str, name: str) -> str:
    return psycopg.conninfo.make_conninfo(server_url, dbname=name)


def _fresh_database(server_url: str, name: str) -> str:
    _drop_database(server_url, name)
    with connect(server_url) as conn:
        conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    url = _database_url(server_url, name)
    with connect(url) as conn:
        apply_migrations(conn)
    return url


def _drop_database(server_url: str, name: str) -> None:
    with connect(server_url) as conn:
        conn.execute(
            sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name))
        )


def describe_machine(server_url: str) -> dict[str, str]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = "unknown"
    try:
        pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        memory = f"{pages / 2**30:.1f} GiB"
    except (ValueError, OSError):
        pass
    with connect(server_url) as conn:
        server = conn.execute("select version()").fetchone()[0]
    return {
        "cpu": cpu,
        "cores": str(os.cpu_count()),
        "memory": memory,
        "system": platform.platform(),
        "python": platform.python_version(),
        "postgresql": server.split(" on ")[0],
    }

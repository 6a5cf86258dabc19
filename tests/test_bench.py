"""The benchmark harness, run at a tiny N so that it cannot rot. Correctness only: no timings asserted."""

from __future__ import annotations

import contextlib
import json
import os
import random
import re
import signal
import subprocess
import sys
import time
import unicodedata
from collections import Counter
from pathlib import Path

import pytest

from orchestration.bench.corpus import (
    LAYOUTS,
    Paper,
    daily_page,
    generate_files,
    method_name,
    title_variant,
)
from orchestration.bench.growth import stage_costs

from conftest import embedded_home, processes_with, run_cli
from parsing import parse_bytes


def title_key(title: str) -> str:
    """The dbt macro title_key, for the ASCII titles of the synthetic corpus."""
    return " ".join(re.findall(r"[a-z0-9]+", unicodedata.normalize("NFKC", title).lower()))


def test_the_corpus_is_deterministic_and_parses_without_a_warning():
    files = list(generate_files(2_500, seed=5))
    assert [f.text for f in files] == [f.text for f in generate_files(2_500, seed=5)]
    assert sum(f.listings for f in files) == 2_500
    assert {f.layout for f in files} == set(LAYOUTS)
    assert all(150 <= f.listings <= 230 for f in files[:-1])
    keys: Counter[str] = Counter()
    for file in files:
        parsed = parse_bytes(file.text.encode())
        assert len(parsed.listings) == file.listings, file.name
        assert parsed.notes.render() is None, file.name
        assert parsed.parser.layout.value == file.layout
        keys.update(title_key(listing.title) for listing in parsed.listings)
    papers = sum(f.new_papers for f in files)
    assert len(keys) == papers  # variants and repeats share their paper's key
    repeats = 1 - papers / 2_500
    assert 0.10 < repeats < 0.20


def test_a_daily_page_lists_new_papers_and_the_seen_ones_again_each_with_a_date():
    seen = [
        Paper(f"Seen Paper {n}: A Study", f"The abstract of seen paper {n}. " * 20)
        for n in range(3)
    ]
    text = daily_page(seen, 40, seed=3, first_paper=900)
    assert text == daily_page(seen, 40, seed=3, first_paper=900)
    parsed = parse_bytes(text.encode())
    assert parsed.notes.render() is None
    assert parsed.parser.layout.value == "blocks_with_metadata"
    assert len(parsed.listings) == 40
    relisted = [listing for listing in parsed.listings if listing.title.startswith("Seen Paper")]
    assert sorted((listing.title, listing.abstract) for listing in relisted) == sorted(
        (paper.title, paper.abstract.strip()) for paper in seen
    )
    assert all(listing.published_text for listing in relisted)


def test_method_names_are_unique_and_variants_keep_the_title_key():
    assert len({method_name(n) for n in range(50_000)}) == 50_000
    rng = random.Random(0)
    title = "Kaluze-Net: Towards Long-Context Image Segmentation"
    for _ in range(20):
        variant = title_variant(title, rng)
        assert title_key(variant) == title_key(title)


@pytest.mark.slow(rank=2)
def test_bench_runs_every_stage_and_counts_come_out_exact(cli_env, tmp_path):
    out = tmp_path / "bench.json"
    result = run_cli(
        "bench",
        "--listings",
        "1200",
        "--big-file-mb",
        "2",
        "--format",
        "json",
        "--out",
        str(out),
        env=cli_env,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(out.read_text())
    assert json.loads(result.stdout) == report
    assert report["listings"] == 1200
    assert report["checks"]["listings_loaded"] == 1200
    assert report["checks"]["papers_built"] == report["checks"]["expected_papers"]
    assert report["checks"]["papers_first_load"] == report["checks"]["expected_papers"]
    assert report["checks"]["papers_exported"] == report["checks"]["papers_at_export"] > 0
    measured = {m["name"]: m for m in report["measurements"]}
    for name in [
        "ingest, many small files: paperhouse ingest",
        "ingest, many small files: psql \\copy",
        "ingest / bare COPY, many small files",
        "ingest / bare COPY, a few large files",
        "ingest CPU per listing, many small files",
        "ingest CPU per listing, a few large files",
        "ingest peak RSS, many small files",
        "ingest peak RSS, a few large files",
        "  round 3: ingest / bare COPY",
        "one-file ingest peak RSS",
        "features step",
        "features step, Python CPU per listing",
        "features step, machine CPU per listing",
        "full dbt build, machine CPU",
        "full dbt build",
        "first load: paperhouse run on a fresh warehouse",
        "  round 3: first load",
        "stages one after another: ingest, features, full build",
        "search p95",
        "top keywords p95",
        "one paper p95",
        "run at N / run at 10k",
        "export to Parquet, peak RSS",
        "machine pace before the first loads: Python, a word pair",
        "machine pace before the first loads: PostgreSQL, a search document",
        "machine pace after the full build: Python, a word pair",
        "machine pace after the full build: PostgreSQL, a search document",
    ]:
        assert measured[name]["value"] > 0, name
    (floor,) = [m for name, m in measured.items() if name.startswith("first load, machine CPU /")]
    assert floor["value"] > 0
    # the hypervisor's share: none on bare metal, so at least present and not negative
    (steal,) = [m for name, m in measured.items() if name.startswith("first load, steal time /")]
    assert steal["value"] >= 0
    assert measured["ingest peak RSS, many small files"]["target"] == "< 300"
    assert isinstance(measured["full dbt build"]["met"], bool)
    assert report["machine"]["cores"].isdigit()
    assert "PostgreSQL" in report["machine"]["postgresql"]
    assert report["machine"]["keyphrase counter"] == "compiled"
    assert report["machine"]["listing reader"] == "compiled"
    assert report["machine"]["search document layout"] == "compiled"


@pytest.mark.parametrize(
    "name",
    [
        "first load: paperhouse run on a fresh warehouse",
        "first load: ingest, features, full build",  # reports before session 19
    ],
)
def test_growth_reads_the_first_load_of_new_and_old_reports(name):
    report = {"listings": 1000, "measurements": [{"name": name, "value": 5.0}]}
    assert stage_costs(report) == {"first load": 5.0}


def test_a_bench_stopped_by_sigterm_leaves_no_server_nor_folder_behind(cli_env):
    """Stopped mid-run, the bench stops its embedded server and the commands it timed, and
    removes its temporary folder (gigabytes at a million listings)."""
    with embedded_home() as scratch:  # where the embedded server's own user may read
        stopped_bench_scenario(cli_env, scratch)


def stopped_bench_scenario(cli_env: dict[str, str], scratch: Path) -> None:
    env, mark = bench_env(cli_env, scratch)
    bench = start_bench(env)
    try:
        assert processes_with(mark), "the bench started no process of its own"
        bench.send_signal(signal.SIGTERM)
        assert bench.wait(timeout=60) != 0
    finally:
        bench.kill()
    assert_none_left(mark)
    assert list(scratch.iterdir()) == []


def test_a_second_bench_on_the_same_server_is_refused_and_the_first_goes_on(cli_env):
    with embedded_home() as scratch:
        env, mark = bench_env(cli_env, scratch)
        workdir = str(scratch / "work")  # one embedded server for both
        first = start_bench(env, "--workdir", workdir)
        try:
            second = run_cli("bench", "-n", "1200", "--workdir", workdir, env=env)
            assert second.returncode == 1
            assert second.stderr.startswith("error: another paperhouse bench is running on ")
            assert "Traceback" not in second.stderr
            assert first.poll() is None, "the refused bench stopped the first one"
            first.send_signal(signal.SIGTERM)
            assert first.wait(timeout=60) != 0
        finally:
            first.kill()
        assert_none_left(mark)


@pytest.mark.parametrize(
    ("option", "where", "code", "says"),
    [
        ("--out", "folder", 2, "is a folder: give the report a file name"),
        ("--out", "missing/report.json", 2, "does not exist"),
        ("--workdir", "file", 1, "as the bench's folder: it is not a folder"),
        ("--workdir", "file/inside", 1, "as the bench's folder: Not a directory"),
    ],
)
def test_a_bench_refuses_paths_it_cannot_use_before_it_starts(
    cli_env, tmp_path, option, where, code, says
):
    (tmp_path / "folder").mkdir()
    (tmp_path / "file").write_text("not a folder")
    with embedded_home() as scratch:
        env, mark = bench_env(cli_env, scratch)
        result = run_cli("bench", "-n", "1200", option, str(tmp_path / where), env=env)
        assert result.returncode == code, result.stderr
        assert says in result.stderr
        assert "Traceback" not in result.stderr
        assert result.stdout == ""
        assert not processes_with(mark), "a refused bench started something"
        assert list(scratch.iterdir()) == []
    assert (tmp_path / "file").read_text() == "not a folder"


def bench_env(cli_env: dict[str, str], scratch: Path) -> tuple[dict[str, str], str]:
    """An environment for `paperhouse bench` on an embedded server with its temporary folders
    in `scratch`, and the variable every process it starts inherits, which shows what is left
    running."""
    env = {k: v for k, v in cli_env.items() if k != "PAPERHOUSE_DATABASE_URL"}
    env.update(TMPDIR=str(scratch), PAPERHOUSE_TEST_BENCH=scratch.name)
    return env, f"PAPERHOUSE_TEST_BENCH={scratch.name}"


def start_bench(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    """`paperhouse bench -n 1200 ARGS`, once its server is up and its first timed ingest runs."""
    bench = subprocess.Popen(
        [str(Path(sys.executable).parent / "paperhouse"), "bench", "-n", "1200", *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert bench.stderr is not None
    for line in bench.stderr:
        if line.startswith("1. "):
            break
    time.sleep(1)
    assert bench.poll() is None, "the bench ended before the test could stop it"
    return bench


def assert_none_left(mark: str) -> None:
    gone_by = time.monotonic() + 10
    while processes_with(mark) and time.monotonic() < gone_by:
        time.sleep(0.1)
    left = processes_with(mark)
    for pid in left:  # not to outlive the test where it fails
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    assert not left, "a stopped bench left a process running"


def test_a_timed_command_dies_with_its_launcher():
    """The benchmark kills the launcher that times a command when it is stopped: the command
    must not live on as an orphan."""
    launcher = subprocess.Popen(
        [sys.executable, "-m", "orchestration.bench.child", "sleep", "300"],
        stdout=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        sleeper = []
        while not sleeper and time.monotonic() < deadline:
            children = Path(f"/proc/{launcher.pid}/task/{launcher.pid}/children")
            sleeper = [int(pid) for pid in children.read_text().split()]
            time.sleep(0.05)
        assert sleeper, "the launcher started no command"
        launcher.kill()
        launcher.wait(timeout=10)
        gone_by = time.monotonic() + 5
        while running(sleeper[0]) and time.monotonic() < gone_by:
            time.sleep(0.05)
        assert not running(sleeper[0]), "the command outlived its launcher"
    finally:
        launcher.kill()


def running(pid: int) -> bool:
    """Whether `pid` runs: a process killed but not yet reaped by its new parent (a zombie) has
    ended."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"

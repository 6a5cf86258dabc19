"""Test fixtures: one real PostgreSQL server per session, one fresh database per test.

The server is an embedded one started for the session, or the server at
PAPERHOUSE_TEST_DATABASE_URL when that is set (CI runs the suite both ways).
Each test gets a database cloned from a template that already holds the
migrated schema, which costs tens of milliseconds instead of a migration run.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import psycopg
import pytest
from hypothesis import strategies as st
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from orchestration.models.runner import remove_artifacts
from orchestration.settings import PROJECT_ROOT
from orchestration.warehouse.embedded import EmbeddedServer
from orchestration.warehouse.migrations import apply_migrations

SEEDS = PROJECT_ROOT / "data" / "inbox"
SEED_COUNTS = {
    "000_992833ff42967d4f.txt": 238,
    "001_80df0e5555d80d65.txt": 225,
    "002_ee19567c067055aa.txt": 73,
    "003_e6a3815afc9a5699.txt": 54,
    "004_ac28443d9d5bf3bd.txt": 42,
}
SEED_LISTINGS = 632
SEED_DISTINCT_TITLES = 558
# PostgreSQL's text holds any character but NUL; lone surrogates are no text at all.
ANY_TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"))
# Run-specific names, so that concurrent runs against one external server never collide.
RUN_ID = uuid.uuid4().hex[:8]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The slow tests first, the higher `rank` the sooner (make test runs the suite in one
    worker process per core): a long test handed out last keeps one worker busy while the
    others have nothing left to do."""

    def order(item: pytest.Item) -> int:
        slow = item.get_closest_marker("slow")
        return -(1 + slow.kwargs.get("rank", 1)) if slow else 0

    items.sort(key=order)  # stable: the rest keep their order


def url_for(server_url: str, dbname: str) -> str:
    """`server_url` pointing at another database, as a libpq connection string."""
    params = conninfo_to_dict(server_url)
    params["dbname"] = dbname
    return make_conninfo("", **params)


@contextlib.contextmanager
def embedded_home() -> Iterator[Path]:
    """A PAPERHOUSE_HOME for an embedded server, outside pytest's tmp folders.

    pytest resets /tmp/pytest-of-<user> to mode 0700 whenever a session starts,
    which would lock the server's own system user (as root) out of its data.
    """
    home = Path(tempfile.mkdtemp(prefix="paperhouse-test-"))
    try:
        yield home
    finally:
        shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="session")
def server_url() -> Iterator[str]:
    external = os.environ.get("PAPERHOUSE_TEST_DATABASE_URL")
    if external:
        yield external
        return
    with embedded_home() as home:
        server = EmbeddedServer(home)
        url = server.start()
        try:
            yield url
        finally:
            server.stop()


@pytest.fixture(scope="session")
def dbt_manifest() -> Path:
    """dbt/target/manifest.json, which dagster-dbt reads when the definitions are imported."""
    from orchestration.models.runner import parse_project

    return parse_project()


@pytest.fixture(scope="session")
def template_db(server_url: str) -> Iterator[str]:
    name = f"paperhouse_template_{RUN_ID}"
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(f'create database "{name}"')
    with psycopg.connect(url_for(server_url, name), autocommit=True) as conn:
        apply_migrations(conn)
    create_dagster_storage(url_for(server_url, name))
    yield name
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(f'drop database if exists "{name}" with (force)')


def create_dagster_storage(url: str) -> None:
    """Dagster's tables in the database at `url`, as a warehouse that ran a command once holds
    them (the CLI reports its runs there): made once in the template, not by every test."""
    import dagster as dg

    from orchestration.settings import DAGSTER_INSTANCE_FILE
    from orchestration.warehouse import sqlalchemy_url

    saved = os.environ.get("DAGSTER_POSTGRES_URL")
    os.environ["DAGSTER_POSTGRES_URL"] = sqlalchemy_url(url, "psycopg2")
    try:
        with tempfile.TemporaryDirectory() as home:
            shutil.copyfile(DAGSTER_INSTANCE_FILE, Path(home) / "dagster.yaml")
            with dg.DagsterInstance.from_config(home):
                pass
    finally:
        if saved is None:
            del os.environ["DAGSTER_POSTGRES_URL"]
        else:
            os.environ["DAGSTER_POSTGRES_URL"] = saved


@pytest.fixture(scope="session")
def sample_db(
    server_url: str, template_db: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """One warehouse holding the five sample files, built once, for tests that only read."""
    from orchestration.ingest.batch import ingest_paths
    from orchestration.pipeline import build

    inbox = tmp_path_factory.mktemp("sample-inbox")
    for seed in sorted(SEEDS.iterdir()):
        shutil.copy2(seed, inbox / seed.name)
    with fresh_database(server_url, template_db) as url:
        ingest_paths(url, [inbox], settle_seconds=0)
        summary = build(url, quiet=True)
        assert summary.succeeded, summary.failures
        yield url


@contextlib.contextmanager
def fresh_database(server_url: str, template_db: str) -> Iterator[str]:
    """A new migrated database, dropped afterwards; yields its connection string."""
    name = f"paperhouse_test_{RUN_ID}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(f'create database "{name}" template "{template_db}"')
    url = url_for(server_url, name)
    try:
        yield url
    finally:
        with psycopg.connect(server_url, autocommit=True) as admin:
            admin.execute(f'drop database if exists "{name}" with (force)')
        remove_artifacts(url)


@pytest.fixture
def db_url(server_url: str, template_db: str) -> Iterator[str]:
    """A fresh, migrated database of its own for this test."""
    with fresh_database(server_url, template_db) as url:
        yield url


@pytest.fixture
def conn(db_url: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(db_url, autocommit=True) as connection:
        yield connection


@pytest.fixture
def inbox(tmp_path: Path) -> Path:
    """A copy of the five sample files, with their modification times kept."""
    folder = tmp_path / "inbox"
    folder.mkdir()
    for seed in sorted(SEEDS.iterdir()):
        shutil.copy2(seed, folder / seed.name)
    return folder


@pytest.fixture
def sample_env(cli_env: dict[str, str], sample_db: str) -> dict[str, str]:
    """The environment of a `paperhouse` process over the sample warehouse (read it, never change it)."""
    return {**cli_env, "PAPERHOUSE_DATABASE_URL": sample_db}


@dataclass
class CliResult:
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def cli_env(db_url: str, tmp_path: Path) -> dict[str, str]:
    """The environment of a `paperhouse` process that uses this test's database."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAPERHOUSE_")}
    env.update(
        PAPERHOUSE_DATABASE_URL=db_url,
        PAPERHOUSE_HOME=str(tmp_path / "home"),
        PAPERHOUSE_SETTLE_SECONDS="0",
        # Dagster's history costs a command ~2 s of CPU; the tests of it (test_dagster.py) turn it on.
        PAPERHOUSE_DAGSTER_HISTORY="false",
        COLUMNS="200",
    )
    return env


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(command: str, env: dict[str, str], log: Path) -> tuple[subprocess.Popen, int]:
    """`paperhouse COMMAND --port PORT` on a free port, writing to `log`, in a session of its own
    as a terminal's foreground job: a SIGINT to its group is the terminal's Ctrl-C."""
    port = free_port()
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "paperhouse"), command, "--port", str(port)],
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    return server, port


def run_cli(*args: str, env: dict[str, str], timeout: float = 120) -> CliResult:
    """Run the real `paperhouse` console script in its own process."""
    paperhouse = Path(sys.executable).parent / "paperhouse"
    done = subprocess.run(
        [str(paperhouse), *args], env=env, capture_output=True, text=True, timeout=timeout
    )
    return CliResult(done.returncode, done.stdout, done.stderr)


class LinesRead:
    """A running process's output, read line by line in a thread: a test waits for a line with
    a deadline, where a plain readline would hang on a process that prints nothing."""

    def __init__(self, stream: IO[str]) -> None:
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._reader.start()

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            self.lines.append(line)

    def wait_for(self, text: str, timeout: float = 60) -> str:
        """The first line holding `text`, once the process has printed it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.lines):
                if text in line:
                    return line
            if not self._reader.is_alive() and not any(text in line for line in self.lines):
                break
            time.sleep(0.05)
        raise AssertionError(f"no line holding {text!r} in {''.join(self.lines)!r}")

    def text(self) -> str:
        """Everything it printed, once it has ended."""
        self._reader.join(timeout=60)
        return "".join(self.lines)


def processes_with(variable: str) -> list[int]:
    """Processes whose environment holds `variable` (NAME=value): what one command started."""
    found = []
    for environ in Path("/proc").glob("[0-9]*/environ"):
        with contextlib.suppress(OSError):
            if variable.encode() in environ.read_bytes().split(b"\0"):
                found.append(int(environ.parent.name))
    return found


def wait_for_history(env: dict[str, str], timeout: float = 90) -> None:
    """Wait until the Dagster reports of the commands run with `env` have landed: each command
    leaves a file in the Dagster home that its reporter deletes when done
    (orchestration/cli/recording.py)."""
    from orchestration.instance import pending_reports
    from orchestration.settings import Settings

    settings = Settings.from_env(env)
    deadline = time.monotonic() + timeout
    while pending_reports(settings):
        assert time.monotonic() < deadline, "a report to Dagster did not land"
        time.sleep(0.2)
    log = settings.home / "dagster" / "history.log"
    assert not log.exists() or "not reported" not in log.read_text(), log.read_text()

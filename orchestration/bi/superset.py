"""Apache Superset over the warehouse (`paperhouse bi`): its metadata database, its reader login,
its secrets and the dashboard, then its web server.

Superset runs from a virtual environment of its own (`.venv-bi`, made by
`make bi` from orchestration/bi/requirements.txt): its few hundred pinned
packages (Flask 3, SQLAlchemy 1.4) would clash with paperhouse's own.
Everything here is idempotent: each start brings the metadata database up
to date, makes the reader login and the admin user where missing, and
imports the dashboard again (fixed uuids: an update, never a copy).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
import subprocess
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from orchestration.bi.dashboard import DASHBOARD_SLUG, write_bundle
from orchestration.settings import PROJECT_ROOT, Settings
from orchestration.warehouse import connect, sqlalchemy_url
from orchestration.warehouse.embedded import close_to_public
from orchestration.warehouse.readers import create_reader

BI_VENV = PROJECT_ROOT / ".venv-bi"
CONFIG_FILE = Path(__file__).with_name("superset_config.py")
COMMANDS_SCRIPT = Path(__file__).with_name("superset_commands.py")
READER_LOGIN = "superset_reader"
ADMIN_LOGIN = "admin"
STOP_GRACE_SECONDS = 10.0


class SupersetError(RuntimeError):
    """Superset cannot be prepared or started; the message says why and what to do."""


@dataclass(frozen=True)
class Site:
    """One warehouse's Superset: where its state lives and how to reach it."""

    folder: Path  # secrets and the lock, in the warehouse's home
    venv: Path
    metadata_url: str  # Superset's own database (libpq)
    env: Mapping[str, str]  # what Superset's commands run with

    @property
    def admin_password_file(self) -> Path:
        return self.folder / "admin_password"

    def executable(self, name: str) -> str:
        return str(self.venv / "bin" / name)


def secret(path: Path) -> str:
    """The secret kept in `path`, made on first use and readable by this user only.

    Written whole to a temporary file, then linked into place: a crash leaves
    no half-written secret, and of two first starts the second reads the first's.
    """
    with contextlib.suppress(FileNotFoundError):
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=".secret-")
    try:
        with os.fdopen(descriptor, "w") as out:  # mkstemp makes it 0600
            out.write(secrets.token_urlsafe(32) + "\n")
        with contextlib.suppress(FileExistsError):
            os.link(temporary, path)
    finally:
        os.unlink(temporary)
    return path.read_text().strip()


def metadata_url(config: Settings, warehouse_url: str) -> str:
    """Superset's own database: PAPERHOUSE_BI_DATABASE_URL, else WAREHOUSE_superset on the
    warehouse's server, made on first use and closed to other logins (readers among them)."""
    if config.bi_database_url:
        return config.bi_database_url
    params = conninfo_to_dict(warehouse_url)
    name = f"{params.get('dbname') or 'postgres'}_superset"[:63]
    with connect(warehouse_url) as conn:
        exists = conn.execute("select 1 from pg_database where datname = %s", [name]).fetchone()
        if not exists:
            try:
                conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
            except psycopg.errors.DuplicateDatabase:
                pass  # another start made it first
            except psycopg.errors.InsufficientPrivilege:
                raise SupersetError(
                    f"the warehouse's login may not create database {name} for Superset's own "
                    "tables: create it, or set PAPERHOUSE_BI_DATABASE_URL to a database it may use"
                ) from None
            close_to_public(conn, (name,))
    params["dbname"] = name
    return make_conninfo("", **params)


def site(config: Settings, warehouse_url: str, venv: Path = BI_VENV) -> Site:
    if not (venv / "bin" / "superset").exists():
        raise SupersetError(
            f"Superset is not installed in {venv}: run `make bi` (it installs it there, then starts it)"
        )
    folder = config.home / "superset"
    metadata = metadata_url(config, warehouse_url)
    env = {
        **os.environ,
        "SUPERSET_CONFIG_PATH": str(CONFIG_FILE),
        "SUPERSET_SECRET_KEY": secret(folder / "secret_key"),
        "PAPERHOUSE_BI_METADATA_URL": sqlalchemy_url(metadata, "psycopg2"),
        "FLASK_APP": "superset",
        "PAPERHOUSE_BI_LANDING_PAGE": landing_page(),
        "PYTHONWARNINGS": "ignore",
    }
    return Site(folder, venv, metadata, env)


@contextlib.contextmanager
def _only_one_setup(folder: Path) -> Iterator[None]:
    """Two `paperhouse bi` at once take turns: Superset's migrations are not safe to run twice."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".setup.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _superset(where: Site, commands: list[list[str]], answers: tuple[str, ...] = ()) -> None:
    """`superset` commands, in one process (superset_commands.py), quiet unless one fails.
    `answers` go to their prompts on stdin: a password as an argument would show in `ps`."""
    done = subprocess.run(
        # -P: the script's folder holds this module, superset.py, which would shadow Superset
        [where.executable("python"), "-P", str(COMMANDS_SCRIPT), json.dumps(commands)],
        env=dict(where.env),
        input="".join(f"{answer}\n" for answer in answers),
        capture_output=True,
        text=True,
    )
    if done.returncode:
        said = (done.stderr or done.stdout).strip().splitlines()[-15:]
        raise SupersetError("Superset's set-up failed:\n" + "\n".join(said))


def reader_uri(warehouse_url: str) -> str:
    """The reader login's SQLAlchemy URL on the warehouse's server, without a password."""
    params = conninfo_to_dict(warehouse_url)
    params.pop("password", None)
    params["user"] = READER_LOGIN
    return sqlalchemy_url(make_conninfo("", **params), "psycopg2")


def set_up(config: Settings, warehouse_url: str, where: Site) -> str:
    """Bring Superset's metadata up to date, make the reader and the admin, import the dashboard.
    Returns the dashboard's path on the server."""
    with _only_one_setup(where.folder):
        reader_password = secret(where.folder / "reader_password")
        create_reader(warehouse_url, READER_LOGIN, reader_password)
        password_kept = where.admin_password_file.exists()
        password = secret(where.admin_password_file)
        commands = [["db", "upgrade"]]
        if not _has_admin(where):
            commands.append(
                [
                    *("fab", "create-admin", "--username", ADMIN_LOGIN),
                    *("--firstname", "paperhouse", "--lastname", "admin"),
                    *("--email", "admin@localhost"),
                ]
            )
        elif not password_kept:  # its file was deleted: the new one must open the door
            commands.append(["fab", "reset-password", "--username", ADMIN_LOGIN])
        with tempfile.TemporaryDirectory(dir=where.folder) as scratch:
            bundle = Path(scratch) / "dashboard.zip"
            write_bundle(bundle, reader_uri(warehouse_url), reader_password)
            commands += [
                ["init"],
                ["import-dashboards", "--path", str(bundle), "--username", ADMIN_LOGIN],
            ]
            # a password prompt, then its confirmation (only the admin's commands ask)
            _superset(where, commands, answers=(password, password))
    return landing_page()


def _has_admin(where: Site) -> bool:
    with psycopg.connect(where.metadata_url, autocommit=True) as conn:
        if conn.execute("select to_regclass('public.ab_user')").fetchone() == (None,):
            return False  # a new database: Superset's tables come with `db upgrade`
        return conn.execute("select from ab_user where username = %s", [ADMIN_LOGIN]).rowcount > 0


def landing_page() -> str:
    return f"/superset/dashboard/{DASHBOARD_SLUG}/"


def server_command(where: Site, host: str, port: int) -> list[str]:
    """Superset's production server: gunicorn, two workers of four threads (two cores)."""
    return [
        where.executable("gunicorn"),
        "--bind",
        f"{host}:{port}",
        "--workers",
        "2",
        "--worker-class",
        "gthread",
        "--threads",
        "4",
        "--timeout",
        "120",
        "--graceful-timeout",
        str(int(STOP_GRACE_SECONDS) - 2),
        "--log-level",
        "warning",
        "superset.app:create_app()",
    ]

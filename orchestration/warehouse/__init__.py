"""The warehouse connection: an external server from PAPERHOUSE_DATABASE_URL, or the embedded one.

Every part of paperhouse (the CLI, the Dagster resources, dbt's profile) gets
its connection from `database_url()`: there is no second copy of this logic.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import quote, urlencode

import psycopg
from psycopg import sql

from orchestration.settings import Settings
from orchestration.warehouse.migrations import apply_migrations


class WarehouseUnavailable(RuntimeError):
    """The warehouse cannot be reached; the message says which one and why."""


def database_url(settings: Settings) -> str:
    """The libpq URL of the warehouse, starting the embedded server when it is the one in use."""
    if settings.database_url:
        return settings.database_url
    # Imported here: the worker processes of ingest and the features step only connect, and
    # each would otherwise import the server's wheel (psutil, platformdirs) as it starts.
    from orchestration.warehouse.embedded import EmbeddedServer, EmbeddedServerError

    try:
        return EmbeddedServer(settings.home).start()
    except EmbeddedServerError as exc:
        raise WarehouseUnavailable(str(exc)) from exc


def connect(url: str, **kwargs: object) -> psycopg.Connection:
    """Open a connection, turning libpq's failure into a message a person can act on."""
    try:
        return psycopg.connect(url, autocommit=True, **kwargs)  # type: ignore[arg-type]
    except psycopg.OperationalError as exc:
        raise WarehouseUnavailable(
            f"cannot connect to the warehouse at {redact(url)}: {first_line(exc)}"
        ) from exc


def take_session_lock(
    conn: psycopg.Connection, key: int | sql.Composable, on_wait: Callable[[], None] | None = None
) -> None:
    """Take the session advisory lock `key` (a number, or an SQL expression of one), waiting for
    another session that holds it; `on_wait()` is called first when there is a wait, so that a
    command can say why it stands still."""
    lock = sql.Literal(key) if isinstance(key, int) else key
    try_lock = sql.SQL("select pg_try_advisory_lock({})").format(lock)
    if not conn.execute(try_lock).fetchone()[0]:  # type: ignore[index]
        if on_wait is not None:
            on_wait()
        conn.execute(sql.SQL("select pg_advisory_lock({})").format(lock))


# Warehouses whose schema this process has brought up to date. Long-lived
# processes (the Dagster code server, whose sensor resolves the warehouse on
# every tick) migrate once; migrations only change with the code, which
# restarts the process.
_migrated: set[str] = set()


def prepare(settings: Settings) -> str:
    """Resolve the warehouse, make sure its schema is current, and return its URL."""
    url = database_url(settings)
    if url not in _migrated:
        with connect(url) as conn:
            apply_migrations(conn)
        _migrated.add(url)
    return url


def redact(url: str) -> str:
    """The URL without its password, fit to print."""
    info = psycopg.conninfo.conninfo_to_dict(url)
    info.pop("password", None)
    return as_url(psycopg.conninfo.make_conninfo("", **info))


# The schemes libpq takes; SQLAlchemy and most BI tools take only the first.
URL_SCHEMES = ("postgresql://", "postgres://")


def as_url(conninfo: str) -> str:
    """A libpq connection string in either form (URL or key=value) as a postgresql:// URL, which
    the whole ecosystem reads (SQLAlchemy, dlt and BI tools take no key=value form)."""
    # libpq reads a string as a URL only by its scheme: a key=value string may hold "://"
    # in a value (a database named "a://b").
    for scheme in URL_SCHEMES:
        if conninfo.startswith(scheme):
            return "postgresql://" + conninfo.removeprefix(scheme)
    info = psycopg.conninfo.conninfo_to_dict(conninfo)
    user = quote(str(info.pop("user", "")), safe="")
    password = info.pop("password", None)
    credentials = f"{user}:{quote(str(password), safe='')}" if password else user
    host = str(info.pop("host", ""))
    port = info.pop("port", None)
    dbname = quote(str(info.pop("dbname", "")), safe="")
    if host.startswith("/"):  # a Unix socket folder: a parameter, not a host name
        info["host"], host = host, ""
    elif ":" in host:  # an IPv6 address, bracketed as URLs write it
        host = f"[{host}]"
    netloc = f"{credentials}@{host}" if credentials else host
    if port:
        netloc += f":{port}"
    query = f"?{urlencode(info)}" if info else ""
    return f"postgresql://{netloc}/{dbname}{query}"


def sqlalchemy_url(conninfo: str, driver: str) -> str:
    """The connection as SQLAlchemy's URL for `driver` (psycopg or psycopg2): SQLAlchemy 2.1
    reads a bare postgresql:// as psycopg 3, so a tool with only psycopg2 needs the name."""
    return f"postgresql+{driver}://{as_url(conninfo).split('://', 1)[1]}"


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


__all__ = [
    "WarehouseUnavailable",
    "as_url",
    "connect",
    "database_url",
    "prepare",
    "redact",
    "sqlalchemy_url",
    "take_session_lock",
]

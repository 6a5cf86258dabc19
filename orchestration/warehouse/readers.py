"""Read-only logins for BI tools: members of paperhouse_reader (sql/migrations/003)."""

from __future__ import annotations

import re

from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from orchestration.warehouse import connect

READER_GROUP = "paperhouse_reader"
LOGIN_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")


class ReaderError(ValueError):
    pass


def create_reader(url: str, name: str, password: str) -> str:
    """Create (or update) login `name` in the reader group; return its URL, without the password."""
    if not LOGIN_NAME.fullmatch(name):
        raise ReaderError(f"{name!r}: a login name is lower-case letters, digits and _")
    if not password:
        raise ReaderError("a reader needs a password")
    with connect(url) as conn, conn.transaction():
        exists = conn.execute("select 1 from pg_roles where rolname = %s", [name]).fetchone()
        verb = "alter" if exists else "create"
        conn.execute(
            sql.SQL("{} role {} login password {}").format(
                sql.SQL(verb), sql.Identifier(name), sql.Literal(password)
            )
        )
        conn.execute(sql.SQL("grant {} to {}").format(sql.Identifier(READER_GROUP), sql.Identifier(name)))
    info = conninfo_to_dict(url)
    host = info.get("host") or "localhost"
    port = info.get("port") or 5432
    return f"postgresql://{name}@{host}:{port}/{info.get('dbname', '')}"

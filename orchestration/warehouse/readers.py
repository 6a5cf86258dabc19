"""Read-only logins for BI tools: members of paperhouse_reader (sql/migrations/003).

A reader reads the marts in schema analytics and writes nothing: its group's
grants, the database's (sql/repeatable/database_privileges.sql) and the
defaults set on each login below. PostgreSQL lets a session change its own
settings, so the defaults (read-only transactions, a statement timeout) are
a guard against mistakes; the privileges are what stop a writer.

Only logins paperhouse made itself are ever changed: an existing role that
is not one (a person's login, a superuser, the warehouse's owner) is refused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from psycopg import errors, sql
from psycopg.conninfo import conninfo_to_dict

from orchestration.warehouse import connect

READER_GROUP = "paperhouse_reader"
LOGIN_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")
# Marks a login as paperhouse's own: the only roles create_reader changes.
READER_COMMENT = "paperhouse: a read-only login made by `paperhouse db create-reader`"
# Defaults of every reader session (each may lower them; see the docstring).
READER_SETTINGS = {
    "default_transaction_read_only": "on",
    "statement_timeout": "60s",
    "idle_in_transaction_session_timeout": "60s",
}
# A cap on one reader's sessions, which PostgreSQL enforces whatever the session does.
READER_CONNECTION_LIMIT = 20


class ReaderError(ValueError):
    pass


@dataclass(frozen=True)
class Reader:
    url: str  # the login's URL, without the password
    created: bool  # False: an existing reader's password was changed


def create_reader(url: str, name: str, password: str) -> Reader:
    """Create login `name` in the reader group, or set the password of a reader made here before."""
    if not LOGIN_NAME.fullmatch(name):
        raise ReaderError(
            f"{name!r}: a login name is up to 63 lower-case letters, digits and _, "
            "starting with a letter or _"
        )
    if not password:
        raise ReaderError("a reader needs a password")
    with connect(url) as conn, conn.transaction():
        existing = conn.execute(
            "select rolsuper or rolcreaterole or rolcreatedb or rolreplication or rolbypassrls, "
            "       rolname = current_user, shobj_description(oid, 'pg_authid') "
            "from pg_roles where rolname = %s",
            [name],
        ).fetchone()
        if existing is not None:
            powerful, is_owner, comment = existing
            if is_owner or powerful:
                raise ReaderError(
                    f"{name} is {'the login paperhouse runs as' if is_owner else 'a privileged role'}; "
                    "a reader must be a login of its own: choose another name"
                )
            if comment != READER_COMMENT:
                raise ReaderError(
                    f"a role named {name} exists and paperhouse did not make it; "
                    "it is left as it is: choose another name"
                )
        role = sql.Identifier(name)
        try:
            conn.execute(
                sql.SQL(
                    "{} role {} login password {} nosuperuser nocreatedb nocreaterole "
                    "noreplication nobypassrls inherit connection limit {}"
                ).format(
                    sql.SQL("alter" if existing else "create"),
                    role,
                    sql.Literal(password),
                    sql.Literal(READER_CONNECTION_LIMIT),
                )
            )
        except errors.ReservedName:
            raise ReaderError(
                f"{name} is a name PostgreSQL keeps for itself (public, none, pg_...): "
                "choose another name"
            ) from None
        conn.execute(sql.SQL("comment on role {} is {}").format(role, sql.Literal(READER_COMMENT)))
        conn.execute(sql.SQL("grant {} to {}").format(sql.Identifier(READER_GROUP), role))
        for setting, value in READER_SETTINGS.items():
            conn.execute(
                sql.SQL("alter role {} set {} = {}").format(
                    role, sql.Identifier(setting), sql.Literal(value)
                )
            )
    info = conninfo_to_dict(url)
    host = info.get("host") or "localhost"
    port = info.get("port") or 5432
    return Reader(
        f"postgresql://{name}@{host}:{port}/{info.get('dbname', '')}", created=existing is None
    )

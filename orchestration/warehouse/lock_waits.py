"""Saying who a command waits for when another session holds the tables it must replace.

A full build swaps the marts in and a restore drops the schemas: both take
ACCESS EXCLUSIVE locks, which wait for every transaction that has read the
table, however idle (a BI tool's open transaction, a psql session left at
`begin`). PostgreSQL's wait is silent and looks like a hang; meanwhile new
readers queue behind it. A thread beside the command reads `pg_blocking_pids`
and names the sessions in its way, once each.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import psycopg

# dbt-postgres's sessions show this name unless a profile sets another; a per-command name in
# the profile would change the profile's hash, and with it throw away dbt's partial parse.
DBT_APPLICATION_NAME = "dbt"

# Sessions of `application_name` that wait for a lock, and the sessions they wait for; those
# of the same name (dbt's own threads, waiting on one another) are not reported.
BLOCKERS = """
select
    blocker.pid,
    coalesce(blocker.usename, ''),
    coalesce(blocker.application_name, ''),
    coalesce(blocker.state, ''),
    extract(epoch from now() - coalesce(blocker.state_change, blocker.backend_start))::float8,
    coalesce(blocker.query, ''),
    string_agg(distinct wanted.relation::regclass::text, ', ' order by wanted.relation::regclass::text)
from pg_stat_activity as waiting
cross join lateral unnest(pg_blocking_pids(waiting.pid)) as blocking (pid)
inner join pg_stat_activity as blocker on blocking.pid = blocker.pid
left join pg_locks as wanted
    on waiting.pid = wanted.pid and not wanted.granted and wanted.relation is not null
where
    waiting.datname = current_database()
    and waiting.application_name = %(application)s
    and waiting.wait_event_type = 'Lock'
    and blocker.application_name is distinct from %(application)s
group by blocker.pid, blocker.usename, blocker.application_name, blocker.state,
    blocker.state_change, blocker.backend_start, blocker.query
order by blocker.pid
"""


@dataclass(frozen=True)
class Blocker:
    """A session holding a lock that one of the command's sessions waits for."""

    pid: int
    user: str
    application: str
    state: str  # pg_stat_activity's: active, idle in transaction, ...
    seconds: float | None  # in its state; None where another login's session is not shown
    query: str  # its current or last statement (`<insufficient privilege>`, as above)
    tables: str | None  # what the waiting session wants, where it is a table


def read_blockers(conn: psycopg.Connection, application: str) -> list[Blocker]:
    return [Blocker(*row) for row in conn.execute(BLOCKERS, {"application": application})]


def describe(blocker: Blocker, waiting: str) -> str:
    """One message: `waiting` (\"the build\") waits for `blocker`, and what ends the wait."""
    state = blocker.state or "in a transaction"
    if blocker.seconds is not None:
        state += f" for {_duration(blocker.seconds)}"
    session = ", ".join(part for part in (blocker.user, blocker.application, state) if part)
    statement = " ".join(blocker.query.split())
    if len(statement) > 80:
        statement = statement[:79] + "…"
    on = f" on {blocker.tables}" if blocker.tables else " it needs"
    return (
        f"{waiting} waits for session {blocker.pid}, which holds a lock{on} ({session}"
        + (f": {statement}" if statement else "")
        + f"). It goes on when that session's transaction ends; "
        f"`select pg_terminate_backend({blocker.pid})` ends it now"
    )


def _duration(seconds: float) -> str:
    whole = max(0, int(seconds))
    if whole < 60:
        return f"{whole} s"
    if whole < 3600:
        return f"{whole // 60} min {whole % 60} s"
    return f"{whole // 3600} h {whole % 3600 // 60} min"


@contextmanager
def reporting_lock_waits(
    url: str,
    application: str,
    waiting: str,
    on_blocked: Callable[[str], None] | None,
    *,
    interval: float = 1.0,
) -> Iterator[None]:
    """While the block runs, call `on_blocked(message)` once for each session that has kept
    a session named `application` waiting for a lock over two looks `interval` apart (a
    moment's wait between two statements is not news). Watching is best effort: a watcher
    that cannot connect or read stops, and the command goes on as it would without it."""
    if on_blocked is None:
        yield
        return
    stop = threading.Event()
    report = on_blocked

    def watch() -> None:
        seen: set[int] = set()
        reported: set[int] = set()
        try:
            with psycopg.connect(
                url, autocommit=True, application_name="paperhouse lock watch"
            ) as conn:
                while not stop.wait(interval):
                    blockers = read_blockers(conn, application)
                    for blocker in blockers:
                        if blocker.pid in seen and blocker.pid not in reported:
                            reported.add(blocker.pid)
                            report(describe(blocker, waiting))
                    seen = {blocker.pid for blocker in blockers}
        except psycopg.Error:
            return

    watcher = threading.Thread(target=watch, name="lock-wait watcher", daemon=True)
    watcher.start()
    try:
        yield
    finally:
        stop.set()
        watcher.join(timeout=5)

"""Every setting paperhouse has, and the one place environment variables are read.

Each is optional: `Settings.from_env()` fills the defaults below. `.env.example`
lists the variables; the README's "Configuration" says what each does.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

# The code's own files (migrations, the dbt project) live beside the package.
PROJECT_ROOT = Path(__file__).resolve().parent.parent
MIGRATIONS_DIR = PROJECT_ROOT / "sql" / "migrations"
REPEATABLE_DIR = PROJECT_ROOT / "sql" / "repeatable"
DBT_PROJECT_DIR = PROJECT_ROOT / "dbt"
# The instance file of every Dagster paperhouse starts: `paperhouse ui`'s and the compose stack's.
DAGSTER_INSTANCE_FILE = PROJECT_ROOT / "docker" / "dagster.yaml"


def default_places(
    project_root: Path = PROJECT_ROOT, environ: Mapping[str, str] | None = None
) -> tuple[Path, Path]:
    """The warehouse's home (its state) and its inbox when no variable names them.

    Never the current folder: a command run from elsewhere would otherwise
    start a second, empty warehouse there. In a checkout (the way paperhouse
    is installed, `make run`) they are the checkout's `.paperhouse/` and
    `data/inbox/`, wherever the command runs; for an install without one,
    a folder of the user's data (XDG_DATA_HOME, else ~/.local/share).
    """
    if (project_root / "pyproject.toml").is_file() and (project_root / "dbt").is_dir():
        return project_root / ".paperhouse", project_root / "data" / "inbox"
    env = os.environ if environ is None else environ
    data = Path(env.get("XDG_DATA_HOME") or Path.home() / ".local" / "share") / "paperhouse"
    return data, data / "inbox"


# A file changed less than this many seconds ago may still be being written:
# an inbox scan leaves it for the next run (see orchestration.ingest.inbox).
DEFAULT_SETTLE_SECONDS = 2.0

# Settings field -> the environment variable it comes from.
ENVIRONMENT_VARIABLES = {
    "database_url": "PAPERHOUSE_DATABASE_URL",
    "home": "PAPERHOUSE_HOME",
    "inbox": "PAPERHOUSE_INBOX",
    "settle_seconds": "PAPERHOUSE_SETTLE_SECONDS",
    "dagster_database_url": "PAPERHOUSE_DAGSTER_DATABASE_URL",
    "sensor_interval_seconds": "PAPERHOUSE_SENSOR_INTERVAL",
    "schedule_cron": "PAPERHOUSE_SCHEDULE_CRON",
    "rebuild_cron": "PAPERHOUSE_REBUILD_CRON",
    "freshness_hours": "PAPERHOUSE_FRESHNESS_HOURS",
    "reader_password": "PAPERHOUSE_READER_PASSWORD",
    "dagster_history": "PAPERHOUSE_DAGSTER_HISTORY",
    "bi_database_url": "PAPERHOUSE_BI_DATABASE_URL",
    "backup_dir": "PAPERHOUSE_BACKUP_DIR",
    "backup_keep": "PAPERHOUSE_BACKUP_KEEP",
    "backup_cron": "PAPERHOUSE_BACKUP_CRON",
}

# How a yes/no variable may be written (as systemd and most tools take them).
TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
FALSE_WORDS = frozenset({"0", "false", "no", "off"})


@dataclass(frozen=True)
class Settings:
    home: Path  # state: the embedded server's data and port
    inbox: Path
    database_url: str | None  # None: the embedded server
    settle_seconds: float = DEFAULT_SETTLE_SECONDS
    dagster_database_url: str | None = None  # Dagster's own storage (orchestration/ui.py)
    sensor_interval_seconds: int = 30
    schedule_cron: str = "0 * * * *"  # ingest and build, hourly
    rebuild_cron: str = "30 3 * * *"  # the nightly full rebuild
    freshness_hours: float = 24.0  # checks.newest_file_is_fresh
    reader_password: str | None = field(default=None, repr=False)  # `db create-reader`
    # CLI commands report their work to Dagster's instance (orchestration/history.py); off saves
    # each writing command Dagster's import and a connection, about two seconds of CPU.
    dagster_history: bool = True
    bi_database_url: str | None = None  # Superset's own tables (orchestration/bi/superset.py)
    backup_dir: Path | None = None  # `db backup` and the nightly backup's folder; None: no backups
    backup_keep: int = 7  # the newest backups kept there
    backup_cron: str = "15 3 * * *"  # between the hourly run and the nightly full rebuild

    @property
    def pgdata(self) -> Path:
        return self.home / "pgdata"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        raw = {name: env.get(variable) or None for name, variable in ENVIRONMENT_VARIABLES.items()}
        home, inbox = default_places(environ=env)
        defaults = cls(home=home, inbox=inbox, database_url=None)
        return cls(
            # a relative value is taken from where the command runs, as typed
            home=Path(raw["home"]).expanduser().resolve() if raw["home"] else home,
            inbox=Path(raw["inbox"]).expanduser().resolve() if raw["inbox"] else inbox,
            database_url=_connection_url(raw, "database_url"),
            settle_seconds=_number(
                raw, "settle_seconds", float, defaults.settle_seconds, within=(0, DAY_SECONDS)
            ),
            dagster_database_url=_connection_url(raw, "dagster_database_url"),
            sensor_interval_seconds=_number(
                raw,
                "sensor_interval_seconds",
                int,
                defaults.sensor_interval_seconds,
                within=(1, DAY_SECONDS),
            ),
            schedule_cron=raw["schedule_cron"] or defaults.schedule_cron,
            rebuild_cron=raw["rebuild_cron"] or defaults.rebuild_cron,
            freshness_hours=_number(
                raw, "freshness_hours", float, defaults.freshness_hours, within=(0.01, YEAR_HOURS)
            ),
            reader_password=raw["reader_password"],
            dagster_history=_yes_or_no(raw, "dagster_history", defaults.dagster_history),
            bi_database_url=_connection_url(raw, "bi_database_url"),
            backup_dir=(
                Path(raw["backup_dir"]).expanduser().resolve() if raw["backup_dir"] else None
            ),
            backup_keep=_number(raw, "backup_keep", int, defaults.backup_keep, within=(1, 100_000)),
            backup_cron=raw["backup_cron"] or defaults.backup_cron,
        )


# The bounds of the numeric settings: past them a value is a mistake, and NaN or infinity
# would leave a check or a scan that never fires.
DAY_SECONDS = 24 * 60 * 60
YEAR_HOURS = 366 * 24


class SettingError(ValueError):
    """An environment variable holds what its setting cannot take; the message names it."""


def _number(
    raw: dict[str, str | None],
    name: str,
    kind: type,
    default: float,
    within: tuple[float, float],
) -> float:
    value = raw[name]
    if value is None:
        return default
    variable = f"{ENVIRONMENT_VARIABLES[name]}={value!r}"
    try:
        number = kind(value)
    except ValueError:
        raise SettingError(f"{variable} is not a {'whole ' if kind is int else ''}number") from None
    low, high = within
    # `not low <= number <= high` rather than the two comparisons: it also refuses NaN
    if not low <= number <= high:
        raise SettingError(f"{variable} is not between {low:g} and {high:g}")
    return number


def _connection_url(raw: dict[str, str | None], name: str) -> str | None:
    """A database URL (or key=value string) libpq can read, checked when the settings are read:
    libpq's own complaint quotes the whole URL, password and all, and comes as a traceback from
    whichever command connects first."""
    value = raw[name]
    if value is None:
        return None
    variable = ENVIRONMENT_VARIABLES[name]
    try:
        value.encode("utf-8")  # a variable's bytes that are not UTF-8 arrive as lone surrogates
    except UnicodeEncodeError:
        raise SettingError(f"{variable} is not UTF-8 text") from None
    try:
        psycopg.conninfo.conninfo_to_dict(value)
    except psycopg.ProgrammingError:
        raise SettingError(
            f"{variable} is not a connection URL libpq can read (postgresql://user@host:port/"
            "database): check its brackets, percent-escapes and parameters"
        ) from None
    return value


def _yes_or_no(raw: dict[str, str | None], name: str, default: bool) -> bool:
    value = raw[name]
    if value is None:
        return default
    if value.strip().lower() in TRUE_WORDS:
        return True
    if value.strip().lower() in FALSE_WORDS:
        return False
    raise SettingError(
        f"{ENVIRONMENT_VARIABLES[name]}={value!r} is neither yes nor no (true/false, 1/0, on/off)"
    )

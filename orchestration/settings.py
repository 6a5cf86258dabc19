"""Where paperhouse keeps things: the one place environment variables are read."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

# The code's own files (migrations, the dbt project) live beside the package.
PROJECT_ROOT = Path(__file__).resolve().parent.parent
MIGRATIONS_DIR = PROJECT_ROOT / "sql" / "migrations"
REPEATABLE_DIR = PROJECT_ROOT / "sql" / "repeatable"
DBT_PROJECT_DIR = PROJECT_ROOT / "dbt"

# The data's places are relative to where paperhouse runs, like git's or dbt's.
DEFAULT_HOME = Path(".paperhouse")
DEFAULT_INBOX = Path("data") / "inbox"

# A file changed less than this many seconds ago may still be being written:
# an inbox scan leaves it for the next run (see orchestration.ingest.inbox).
DEFAULT_SETTLE_SECONDS = 2.0


# Settings field -> the environment variable it comes from (all optional).
ENVIRONMENT_VARIABLES = {
    "database_url": "PAPERHOUSE_DATABASE_URL",
    "home": "PAPERHOUSE_HOME",
    "inbox": "PAPERHOUSE_INBOX",
    "settle_seconds": "PAPERHOUSE_SETTLE_SECONDS",
}


@dataclass(frozen=True)
class Settings:
    home: Path
    inbox: Path
    database_url: str | None
    settle_seconds: float

    @property
    def pgdata(self) -> Path:
        return self.home / "pgdata"

    @classmethod
    def from_env(cls, environ: os._Environ[str] | dict[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        raw = {
            field: env.get(variable) or None for field, variable in ENVIRONMENT_VARIABLES.items()
        }
        return cls(
            home=Path(raw["home"] or DEFAULT_HOME).expanduser().resolve(),
            inbox=Path(raw["inbox"] or DEFAULT_INBOX).expanduser().resolve(),
            database_url=raw["database_url"],
            settle_seconds=float(raw["settle_seconds"])
            if raw["settle_seconds"]
            else DEFAULT_SETTLE_SECONDS,
        )

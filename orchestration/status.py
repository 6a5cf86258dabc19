"""What the warehouse holds: the figures behind `paperhouse status` and the end of `paperhouse run`."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime

import psycopg

from orchestration.ingest.ledger import RECORDED


@dataclass(frozen=True)
class ProblemFile:
    file_name: str
    status: str
    error: str


@dataclass(frozen=True)
class WarehouseStatus:
    files_by_status: dict[str, int]
    listings: int
    papers: int | None  # None until the models have been built
    last_ingested_at: datetime | None
    problem_files: list[ProblemFile] = field(default_factory=list)
    # listings the keyphrase rule raised on, kept without keyphrases (orchestration/features.py)
    listings_without_keyphrases: int = 0

    @property
    def files(self) -> int:
        return sum(self.files_by_status.values())

    def as_json(self) -> dict[str, object]:
        data = asdict(self)
        data["files"] = self.files
        data["last_ingested_at"] = (
            self.last_ingested_at.isoformat() if self.last_ingested_at else None
        )
        return data


def read_status(conn: psycopg.Connection, *, problem_limit: int = 10) -> WarehouseStatus:
    counts = dict(
        conn.execute("select status, count(*) from raw.ingested_files group by status").fetchall()
    )
    files_by_status = {status.value: int(counts.get(status.value, 0)) for status in RECORDED}
    # The ledger's per-file counts, written in the same transaction as the
    # listings: exact, and a scan of one row per file rather than of every listing.
    listings, last_ingested_at = conn.execute(
        "select coalesce(sum(listing_count), 0), max(ingested_at) from raw.ingested_files"
    ).fetchone() or (0, None)
    problems = [
        ProblemFile(*row)
        for row in conn.execute(
            """
            select file_name, status, error from raw.ingested_files
            where status = 'rejected' or (status = 'loaded' and error is not null)
            order by ingested_at desc, file_id desc
            limit %s
            """,
            [problem_limit],
        ).fetchall()
    ]
    return WarehouseStatus(
        files_by_status=files_by_status,
        listings=int(listings),
        papers=_count_papers(conn),
        last_ingested_at=last_ingested_at,
        problem_files=problems,
        listings_without_keyphrases=count_listings_without_keyphrases(conn),
    )


def count_listings_without_keyphrases(conn: psycopg.Connection) -> int:
    """Listings the keyphrase rule raised on, kept without keyphrases (orchestration/features.py);
    counted by the partial index of those rows alone (sql/migrations/014)."""
    row = conn.execute(
        "select count(*) from features.listing_keywords where extraction_error is not null"
    ).fetchone()
    return int(row[0]) if row else 0


def _count_papers(conn: psycopg.Connection) -> int | None:
    exists = conn.execute("select to_regclass('analytics.dim_papers') is not null").fetchone()
    if not exists or not exists[0]:
        return None
    row = conn.execute("select count(*) from analytics.dim_papers").fetchone()
    return int(row[0]) if row else 0

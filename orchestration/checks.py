"""What an operator should know about the warehouse beyond dbt's tests, judged from its state
(never from one run's report): the last step of every pipeline run, and Dagster's asset checks."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import psycopg

from orchestration.status import count_listings_without_keyphrases


@dataclass(frozen=True)
class CheckResult:
    name: str
    passed: bool
    description: str  # what was found, in a line
    warn_only: bool = False  # a problem of the data, not of the pipeline
    details: dict[str, object] = field(default_factory=dict)


def no_file_rejected(conn: psycopg.Connection) -> CheckResult:
    """Rejected files in the ledger: a bad file is the file's problem, so this only warns."""
    rows = conn.execute(
        "select file_name, coalesce(error, '') from raw.ingested_files "
        "where status = 'rejected' order by ingested_at desc, file_id desc"
    ).fetchall()
    return CheckResult(
        "no_file_rejected",
        passed=not rows,
        warn_only=True,
        description=f"{len(rows):,} file(s) rejected" if rows else "no file rejected",
        details={"rejected_files": rows[:20]},
    )


def no_keyphrase_error(conn: psycopg.Connection) -> CheckResult:
    """Listings the keyphrase rule raised on, kept without keyphrases (orchestration/features.py):
    a bug of the rule, which only warns, as the rest of the warehouse is sound."""
    failed = count_listings_without_keyphrases(conn)
    examples = conn.execute(
        """
        select files.file_name || ', listing ' || failed.position, failed.extraction_error
        from features.listing_keywords as failed
        join raw.ingested_files as files using (file_id)
        where failed.extraction_error is not null
        order by failed.file_id, failed.position
        limit 20
        """
    ).fetchall()
    return CheckResult(
        "no_keyphrase_error",
        passed=failed == 0,
        warn_only=True,
        description=(
            f"{failed:,} listing(s) have no keyphrases: the keyphrase rule raised on their text"
            f" (the first: {examples[0][0]}: {examples[0][1]})"
            if failed
            else "the keyphrase rule raised on no listing"
        ),
        details={"failed_listings": examples},
    )


def listings_map_to_papers(conn: psycopg.Connection) -> CheckResult:
    """Every raw listing that a build took maps to a paper in analytics.fct_paper_listings."""
    if conn.execute("select to_regclass('analytics.fct_paper_listings')").fetchone()[0] is None:  # type: ignore[index]
        return CheckResult("listings_map_to_papers", True, "not built yet")
    unmapped = conn.execute(
        """
        select count(*) from raw.paper_listings as listing
        join raw.ingested_files as files using (file_id)
        where files.ingest_seq <= (select coalesce(max(ingest_seq), 0) from analytics.fct_paper_listings)
          and not exists (
            select from analytics.fct_paper_listings as fact
            where fact.file_id = listing.file_id and fact.position = listing.position
        )
        """
    ).fetchone()[0]  # type: ignore[index]
    return CheckResult(
        "listings_map_to_papers",
        passed=unmapped == 0,
        description=f"{unmapped:,} raw listings map to no paper"
        if unmapped
        else "every listing maps to a paper",
        details={"unmapped_listings": unmapped},
    )


def newest_file_is_fresh(conn: psycopg.Connection, limit_hours: float) -> CheckResult:
    """A new file arrived within `limit_hours`: a scraper that stopped shows here."""
    newest = conn.execute("select max(ingested_at) from raw.ingested_files").fetchone()[0]  # type: ignore[index]
    age = datetime.now(UTC) - newest if newest else None
    fresh = age is not None and age <= timedelta(hours=limit_hours)
    return CheckResult(
        "newest_file_is_fresh",
        passed=fresh,
        warn_only=True,
        description=(
            "no file ingested yet"
            if age is None
            else f"the newest file was ingested {age.total_seconds() / 3600:.1f} h ago (limit {limit_hours:g} h)"
        ),
        details={
            "newest_file_ingested_at": newest.isoformat() if newest else "never",
            "age_hours": round(age.total_seconds() / 3600, 2) if age else -1.0,
            "limit_hours": limit_hours,
        },
    )

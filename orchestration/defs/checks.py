"""Asset checks that tell an operator something the dbt tests do not."""

import os
from datetime import UTC, datetime, timedelta

import dagster as dg

from orchestration.defs.ingest import RAW_FILES
from orchestration.defs.resources import WarehouseResource
from orchestration.warehouse import connect

FACT_LISTINGS = dg.AssetKey(["analytics", "fct_paper_listings"])
DEFAULT_FRESHNESS_HOURS = 24.0


@dg.asset_check(
    asset=FACT_LISTINGS,
    description="Every raw listing of a loaded file maps to a paper in analytics.fct_paper_listings.",
)
def listings_map_to_papers(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    with connect(warehouse.url()) as conn:
        row = conn.execute(
            """
            select count(*) from raw.paper_listings as listing
            where not exists (
                select 1 from analytics.fct_paper_listings as fact
                where fact.file_id = listing.file_id and fact.position = listing.position
            )
            """
        ).fetchone()
    unmapped = int(row[0]) if row else 0
    return dg.AssetCheckResult(
        passed=unmapped == 0,
        metadata={"unmapped_listings": dg.MetadataValue.int(unmapped)},
        description=None if unmapped == 0 else f"{unmapped:,} raw listings map to no paper",
    )


def freshness_hours() -> float:
    value = os.environ.get("PAPERHOUSE_FRESHNESS_HOURS")
    return float(value) if value else DEFAULT_FRESHNESS_HOURS


@dg.asset_check(
    asset=RAW_FILES,
    description="A new listing file arrived within PAPERHOUSE_FRESHNESS_HOURS (default 24).",
)
def newest_file_is_fresh(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    with connect(warehouse.url()) as conn:
        row = conn.execute("select max(ingested_at) from raw.ingested_files").fetchone()
    newest = row[0] if row else None
    limit = timedelta(hours=freshness_hours())
    age = datetime.now(UTC) - newest if newest else None
    return dg.AssetCheckResult(
        passed=age is not None and age <= limit,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "newest_file_ingested_at": dg.MetadataValue.text(
                newest.isoformat() if newest else "never"
            ),
            "age_hours": dg.MetadataValue.float(
                round(age.total_seconds() / 3600, 2) if age else -1.0
            ),
            "limit_hours": dg.MetadataValue.float(limit.total_seconds() / 3600),
        },
    )

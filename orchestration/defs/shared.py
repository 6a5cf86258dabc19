"""What the Dagster domains share: the asset keys of the raw and features layers and of the dbt
nodes, the checks' assets, the ingest pool, and check results in Dagster's form.

Nothing here imports dagster-dbt: the CLI reports its runs with these keys
(orchestration/history.py) without paying for that import.
"""

from collections.abc import Mapping
from typing import Any

import dagster as dg

from orchestration.checks import CheckResult
from orchestration.output import visible

RAW_FILES = dg.AssetKey(["raw", "ingested_files"])
RAW_LISTINGS = dg.AssetKey(["raw", "paper_listings"])
EXTRACTED_FILES = dg.AssetKey(["features", "extracted_files"])
LISTING_KEYWORDS = dg.AssetKey(["features", "listing_keywords"])
LISTING_SEARCH_DOCUMENTS = dg.AssetKey(["features", "listing_search_documents"])
FACT_LISTINGS = dg.AssetKey(["analytics", "fct_paper_listings"])

# The checks of orchestration/checks.py and the asset each one is on.
CHECKED_ASSETS = {
    "no_file_rejected": RAW_LISTINGS,
    "newest_file_is_fresh": RAW_FILES,
    "no_keyphrase_error": LISTING_KEYWORDS,
    "listings_map_to_papers": FACT_LISTINGS,
}

# One writer of the raw and features layers at a time, whoever launched it:
# docker/dagster.yaml limits every pool to one slot.
WRITERS_POOL = "paperhouse_ingest"


def dbt_asset_key(props: Mapping[str, Any]) -> dg.AssetKey:
    """A dbt node's asset key: sources keyed like the Python assets that write them
    (raw/paper_listings), models [schema, name] (analytics/dim_papers)."""
    if props["resource_type"] == "source":
        return dg.AssetKey([props["source_name"], props["name"]])
    schema = props.get("config", {}).get("schema") or props["schema"]
    return dg.AssetKey([schema, props["name"]])


def asset_check_result(result: CheckResult) -> dg.AssetCheckResult:
    """A check of orchestration/checks.py as Dagster shows it."""
    return dg.AssetCheckResult(
        passed=result.passed,
        severity=check_severity(result),
        description=result.description,
        metadata=check_metadata(result),
    )


def check_severity(result: CheckResult) -> dg.AssetCheckSeverity:
    return dg.AssetCheckSeverity.WARN if result.warn_only else dg.AssetCheckSeverity.ERROR


def check_metadata(result: CheckResult) -> dict[str, dg.MetadataValue]:
    return {name: _metadata(value) for name, value in result.details.items()}


def _metadata(value: object) -> dg.MetadataValue:
    if isinstance(value, bool | int):
        return dg.MetadataValue.int(int(value))
    if isinstance(value, float):
        return dg.MetadataValue.float(value)
    if isinstance(value, list):
        rows = ["| file | reason |", "|---|---|"] + [
            f"| {markdown_cell(name)} | {markdown_cell(reason)} |" for name, reason in value
        ]
        return dg.MetadataValue.md("\n".join(rows) if value else "none")
    return dg.MetadataValue.text(str(value))


def markdown_cell(value: object) -> str:
    """A value fit for a cell of a Markdown table: shown as in the CLI's tables, pipes escaped, one line."""
    return visible(value).replace("|", "\\|").replace("\n", " ")

"""What the Dagster domains share: the asset keys of the raw and features layers, the ingest
pool, and check results in Dagster's form."""

import dagster as dg

from orchestration.checks import CheckResult
from orchestration.output import visible

RAW_FILES = dg.AssetKey(["raw", "ingested_files"])
RAW_LISTINGS = dg.AssetKey(["raw", "paper_listings"])
EXTRACTED_FILES = dg.AssetKey(["features", "extracted_files"])
LISTING_KEYWORDS = dg.AssetKey(["features", "listing_keywords"])
LISTING_SEARCH_DOCUMENTS = dg.AssetKey(["features", "listing_search_documents"])
FACT_LISTINGS = dg.AssetKey(["analytics", "fct_paper_listings"])

# One writer of the raw and features layers at a time, whoever launched it:
# docker/dagster.yaml limits every pool to one slot.
WRITERS_POOL = "paperhouse_ingest"


def asset_check_result(result: CheckResult) -> dg.AssetCheckResult:
    """A check of orchestration/checks.py as Dagster shows it."""
    return dg.AssetCheckResult(
        passed=result.passed,
        severity=dg.AssetCheckSeverity.WARN if result.warn_only else dg.AssetCheckSeverity.ERROR,
        description=result.description,
        metadata={name: _metadata(value) for name, value in result.details.items()},
    )


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

"""The ingest asset: every new file in the inbox into raw.ingested_files and raw.paper_listings."""

from collections.abc import Iterator

import dagster as dg

from orchestration.defs.resources import WarehouseResource
from orchestration.ingest.batch import IngestReport, ingest_paths
from orchestration.ingest.load import Outcome

RAW_FILES = dg.AssetKey(["raw", "ingested_files"])
RAW_LISTINGS = dg.AssetKey(["raw", "paper_listings"])
# One ingest at a time, whoever launched it: dagster.yaml limits this pool to 1.
INGEST_POOL = "paperhouse_ingest"


def ingest_metadata(report: IngestReport) -> dict[str, dg.MetadataValue]:
    """What one ingest run did, as materialization metadata (pure: tested on its own)."""
    counts = report.by_outcome
    problems = [
        result for result in report.results if result.outcome in (Outcome.REJECTED, Outcome.RETRY)
    ]
    table = "\n".join(
        ["| file | outcome | reason |", "|---|---|---|"]
        + [
            f"| {_cell(result.name)} | {result.outcome.value} | {_cell(result.message or '')} |"
            for result in problems
        ]
    )
    return {
        "listings_loaded": dg.MetadataValue.int(report.listings_loaded),
        "files_seen": dg.MetadataValue.int(len(report.results)),
        **{f"files_{outcome.value}": dg.MetadataValue.int(counts[outcome]) for outcome in Outcome},
        "files_passed_over": dg.MetadataValue.int(len(report.passed_over)),
        "rejected_files": dg.MetadataValue.md(table if problems else "none"),
    }


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            RAW_FILES,
            description="The ledger of listing files: one row per file seen, with its status.",
            group_name="raw",
            kinds={"postgres"},
        ),
        dg.AssetSpec(
            RAW_LISTINGS,
            description="Every listing of every loaded file, verbatim (orchestration/ingest).",
            group_name="raw",
            kinds={"postgres"},
        ),
    ],
    check_specs=[
        dg.AssetCheckSpec(
            "no_file_rejected",
            asset=RAW_LISTINGS,
            description="No file of the latest ingest was rejected or left to retry.",
        )
    ],
    pool=INGEST_POOL,
)
def ingest_inbox(
    context: dg.AssetExecutionContext, warehouse: WarehouseResource
) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
    """Ingest every file of the inbox not ingested before, each exactly once."""
    settings = warehouse.settings()
    report = ingest_paths(warehouse.url(), [settings.inbox], settle_seconds=settings.settle_seconds)
    metadata = ingest_metadata(report)
    context.log.info(
        "ingested %s file(s), %s listing(s)", len(report.results), report.listings_loaded
    )
    yield dg.MaterializeResult(asset_key=RAW_FILES, metadata={"files_seen": metadata["files_seen"]})
    yield dg.MaterializeResult(asset_key=RAW_LISTINGS, metadata=metadata)
    troubled = [r for r in report.results if r.outcome in (Outcome.REJECTED, Outcome.RETRY)]
    yield dg.AssetCheckResult(
        check_name="no_file_rejected",
        asset_key=RAW_LISTINGS,
        passed=not troubled,
        # a bad file is the file's problem, not the pipeline's: warn, do not fail
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"rejected_files": metadata["rejected_files"]},
        description=None if not troubled else f"{len(troubled)} file(s) rejected or left to retry",
    )

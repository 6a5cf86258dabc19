"""The raw assets: every new file of the inbox into raw.ingested_files and raw.paper_listings."""

import dagster as dg

from orchestration import pipeline
from orchestration.defs.resources import WarehouseResource
from orchestration.defs.shared import RAW_FILES, RAW_LISTINGS, WRITERS_POOL, markdown_cell
from orchestration.ingest.batch import IngestReport
from orchestration.ingest.ledger import Outcome


def ingest_metadata(report: IngestReport) -> dict[str, dg.MetadataValue]:
    """What one ingest run did, as materialization metadata (pure: tested on its own)."""
    counts = report.by_outcome
    problems = [
        result for result in report.results if result.outcome in (Outcome.REJECTED, Outcome.RETRY)
    ]
    table = "\n".join(
        ["| file | outcome | reason |", "|---|---|---|"]
        + [
            f"| {markdown_cell(result.name)} | {result.outcome.value} | {markdown_cell(result.message)} |"
            for result in problems
        ]
    )
    return {
        "listings_loaded": dg.MetadataValue.int(report.listings_loaded),
        "files_seen": dg.MetadataValue.int(len(report.results)),
        **{f"files_{outcome.value}": dg.MetadataValue.int(counts[outcome]) for outcome in Outcome},
        "files_not_ready": dg.MetadataValue.int(len(report.not_ready)),
        "problem_files": dg.MetadataValue.md(table if problems else "none"),
    }


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
    pool=WRITERS_POOL,
)
def ingest_inbox(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    """Ingest every file of the inbox not ingested before, each exactly once."""
    settings = warehouse.settings()
    report = pipeline.ingest(warehouse.url(), [settings.inbox], settings)
    metadata = ingest_metadata(report)
    context.log.info(
        "ingested %s file(s), %s listing(s)", len(report.results), report.listings_loaded
    )
    yield dg.MaterializeResult(asset_key=RAW_FILES, metadata={"files_seen": metadata["files_seen"]})
    yield dg.MaterializeResult(asset_key=RAW_LISTINGS, metadata=metadata)

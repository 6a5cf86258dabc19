"""The raw assets: every new file of the inbox into raw.ingested_files and raw.paper_listings."""

import dagster as dg

from orchestration import pipeline
from orchestration.defs.metadata import ingest_metadata
from orchestration.defs.resources import WarehouseResource
from orchestration.defs.shared import RAW_FILES, RAW_LISTINGS, WRITERS_POOL


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

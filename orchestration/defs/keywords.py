"""The keyword asset: keyphrases of newly loaded listings, between ingest and the dbt models."""

import dagster as dg

from orchestration.defs.ingest import INGEST_POOL, RAW_LISTINGS
from orchestration.defs.resources import WarehouseResource
from orchestration.keywords.store import extract_pending

KEYWORD_EXTRACTIONS = dg.AssetKey(["features", "keyword_extractions"])
LISTING_KEYWORDS = dg.AssetKey(["features", "listing_keywords"])


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            KEYWORD_EXTRACTIONS,
            deps=[RAW_LISTINGS],
            description="Files whose listings have keyphrases, and the extractor version.",
            group_name="features",
            kinds={"python", "postgres"},
        ),
        dg.AssetSpec(
            LISTING_KEYWORDS,
            deps=[RAW_LISTINGS],
            description="Up to ten keyphrases of every loaded listing (orchestration/keywords).",
            group_name="features",
            kinds={"python", "postgres"},
        ),
    ],
    # one writer of the raw and features layers at a time, like ingest
    pool=INGEST_POOL,
)
def extract_keywords(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    """Extract the keyphrases of every listing that has none from the current extractor."""
    summary = extract_pending(warehouse.url())
    context.log.info("extracted keyphrases of %s listing(s) in %s file(s)", summary.listings, summary.files)
    metadata = {
        "listings_extracted": dg.MetadataValue.int(summary.listings),
        "files_extracted": dg.MetadataValue.int(summary.files),
        "files_reextracted": dg.MetadataValue.int(summary.reextracted_files),
        "extractor_version": dg.MetadataValue.text(summary.version),
    }
    yield dg.MaterializeResult(asset_key=KEYWORD_EXTRACTIONS, metadata=metadata)
    yield dg.MaterializeResult(asset_key=LISTING_KEYWORDS, metadata=metadata)

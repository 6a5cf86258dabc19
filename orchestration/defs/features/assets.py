"""The features assets: keyphrases and search documents of new listings, between ingest and the models."""

import dagster as dg

from orchestration import pipeline
from orchestration.defs.metadata import features_metadata
from orchestration.defs.resources import WarehouseResource
from orchestration.defs.shared import (
    EXTRACTED_FILES,
    LISTING_KEYWORDS,
    LISTING_SEARCH_DOCUMENTS,
    RAW_LISTINGS,
    WRITERS_POOL,
)
from orchestration.features import EXTRACTION_WAIT, FAILED_LISTINGS_WARNING

FEATURES_ASSETS = {
    EXTRACTED_FILES: "Files whose listings have their features, and the extractor version.",
    LISTING_KEYWORDS: "Up to ten keyphrases of every loaded listing (orchestration/keywords).",
    LISTING_SEARCH_DOCUMENTS: "Title and abstract of every loaded listing as a tsvector, for search.",
}


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            key,
            deps=[RAW_LISTINGS],
            description=description,
            group_name="features",
            kinds={"python", "postgres"},
        )
        for key, description in FEATURES_ASSETS.items()
    ],
    pool=WRITERS_POOL,
)
def extract_features(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
    """Compute the features of every listing that has none from the current extractor."""
    summary = pipeline.extract_features(
        warehouse.url(),
        on_wait=lambda: context.log.info(EXTRACTION_WAIT),
    )
    context.log.info(
        "extracted the features of %s listing(s) in %s file(s)", summary.listings, summary.files
    )
    if summary.failed_listings:
        context.log.warning(FAILED_LISTINGS_WARNING.format(summary.failed_listings))
    metadata = features_metadata(summary)
    for key in FEATURES_ASSETS:
        yield dg.MaterializeResult(asset_key=key, metadata=metadata)

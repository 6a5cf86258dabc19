"""The jobs: the whole pipeline, incrementally or rebuilding every model."""

import dagster as dg

from orchestration.defs.models.assets import DbtBuildConfig

INGEST_AND_BUILD = "ingest_and_build"
FULL_REBUILD = "full_rebuild"

ingest_and_build = dg.define_asset_job(
    INGEST_AND_BUILD,
    selection=dg.AssetSelection.all(),
    description="Ingest the inbox, extract the new listings' features, build the models, run the checks.",
)

full_rebuild = dg.define_asset_job(
    FULL_REBUILD,
    selection=dg.AssetSelection.all(),
    description="The same, rebuilding every model from scratch (dbt --full-refresh).",
    config=dg.RunConfig(ops={"paperhouse_dbt_models": DbtBuildConfig(full_refresh=True)}),
)

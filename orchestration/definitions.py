"""The Dagster code location: `dagster dev -m orchestration.definitions`. It only assembles."""

from __future__ import annotations

import dagster as dg

from orchestration.defs.automation import (
    full_rebuild,
    inbox_sensor,
    ingest_and_build,
    ingest_schedule,
    nightly_full_rebuild,
)
from orchestration.defs.checks import listings_map_to_papers, newest_file_is_fresh
from orchestration.defs.dbt import paperhouse_dbt_models
from orchestration.defs.features import extract_features
from orchestration.defs.ingest import ingest_inbox
from orchestration.defs.resources import dbt_resource, warehouse_from_env

defs = dg.Definitions(
    assets=[ingest_inbox, extract_features, paperhouse_dbt_models],
    asset_checks=[listings_map_to_papers, newest_file_is_fresh],
    jobs=[ingest_and_build, full_rebuild],
    schedules=[ingest_schedule, nightly_full_rebuild],
    sensors=[inbox_sensor],
    resources={"warehouse": warehouse_from_env(), "dbt": dbt_resource()},
)

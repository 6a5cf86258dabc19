"""Checks of the raw layer, judged from the warehouse's state (orchestration/checks.py)."""

import dagster as dg

from orchestration import checks
from orchestration.defs.resources import WarehouseResource
from orchestration.defs.shared import CHECKED_ASSETS, asset_check_result
from orchestration.warehouse import connect


@dg.asset_check(
    asset=CHECKED_ASSETS["no_file_rejected"],
    description="No file in the ledger is rejected (a warning: the file's problem).",
)
def no_file_rejected(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    with connect(warehouse.url()) as conn:
        return asset_check_result(checks.no_file_rejected(conn))


@dg.asset_check(
    asset=CHECKED_ASSETS["newest_file_is_fresh"],
    description="A new listing file arrived within PAPERHOUSE_FRESHNESS_HOURS (default 24).",
)
def newest_file_is_fresh(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    with connect(warehouse.url()) as conn:
        return asset_check_result(
            checks.newest_file_is_fresh(conn, warehouse.settings().freshness_hours)
        )

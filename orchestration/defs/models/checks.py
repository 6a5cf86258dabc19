"""A check of the marts that dbt's tests do not make: every listing a build took is in them."""

import dagster as dg

from orchestration import checks
from orchestration.defs.resources import WarehouseResource
from orchestration.defs.shared import CHECKED_ASSETS, asset_check_result
from orchestration.warehouse import connect


@dg.asset_check(
    asset=CHECKED_ASSETS["listings_map_to_papers"],
    description="Every raw listing a build took maps to a paper in analytics.fct_paper_listings.",
)
def listings_map_to_papers(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    with connect(warehouse.url()) as conn:
        return asset_check_result(checks.listings_map_to_papers(conn))

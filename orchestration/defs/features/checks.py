"""A check of the features layer, judged from the warehouse's state (orchestration/checks.py)."""

import dagster as dg

from orchestration import checks
from orchestration.defs.resources import WarehouseResource
from orchestration.defs.shared import CHECKED_ASSETS, asset_check_result
from orchestration.warehouse import connect


@dg.asset_check(
    asset=CHECKED_ASSETS["no_keyphrase_error"],
    description=(
        "The keyphrase rule raised on no listing (a warning: such a listing is kept without "
        "keyphrases, and the rest of the warehouse is built)."
    ),
)
def no_keyphrase_error(warehouse: WarehouseResource) -> dg.AssetCheckResult:
    with connect(warehouse.url()) as conn:
        return asset_check_result(checks.no_keyphrase_error(conn))

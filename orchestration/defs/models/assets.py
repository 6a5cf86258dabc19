"""The dbt models as Dagster assets (dagster-dbt); their data and unit tests become asset checks."""

from collections.abc import Iterator
from typing import Any

import dagster as dg
from dagster_dbt import DbtCliResource, dbt_assets

from orchestration.defs.models.translator import translator
from orchestration.defs.resources import WarehouseResource, dbt_project, environment
from orchestration.models.plan import BUILD_WAIT, planned_build
from orchestration.models.runner import dbt_profile_env, target_path


class DbtBuildConfig(dg.Config):
    """Run config of the dbt assets: the nightly job sets full_refresh."""

    full_refresh: bool = False


@dbt_assets(
    manifest=dbt_project.manifest_path, project=dbt_project, dagster_dbt_translator=translator
)
def paperhouse_dbt_models(
    context: dg.AssetExecutionContext,
    dbt: DbtCliResource,
    warehouse: WarehouseResource,
    config: DbtBuildConfig,
) -> Iterator[Any]:
    """dbt build over the selected models, planned as every build is (orchestration/models/plan.py)."""
    url = warehouse.url()
    selection = "a subset chosen in Dagster" if context.is_subset else None
    with planned_build(
        url,
        full_refresh=config.full_refresh,
        selection=selection,
        on_wait=lambda: context.log.info(BUILD_WAIT),
        on_blocked=context.log.warning,
    ) as build:
        if build.plan.full_refresh:
            context.log.info("a full refresh: %s", "; ".join(build.plan.full_refresh_because))
        # dagster-dbt adds the selection to the arguments when this is a subset
        arguments = [arg for arg in build.plan.dbt_args if arg != "--select"]
        with environment({**dbt_profile_env(url), **build.plan.dbt_env}):
            # The warehouse's own folder, beside the CLI's builds: dagster-dbt makes a new one a
            # run by default, which an hourly schedule would pile up. A warehouse's builds take
            # turns, so they never share it at once.
            where = target_path(url) / "dagster"
            yield from dbt.cli(arguments, context=context, target_path=where).stream()
        build.succeeded = True

"""The dbt models as Dagster assets (dagster-dbt); their tests become asset checks."""

from collections.abc import Iterator, Mapping
from typing import Any

import dagster as dg
from dagster_dbt import (
    DagsterDbtTranslator,
    DagsterDbtTranslatorSettings,
    DbtCliResource,
    dbt_assets,
)

from orchestration.build import build_lock, dbt_build_flags, dbt_profile_env, plan_build
from orchestration.defs.resources import WarehouseResource, dbt_project, environment


class PaperhouseTranslator(DagsterDbtTranslator):
    """The one place where dbt names become asset keys and groups.

    Models are keyed [schema, name] (analytics/dim_papers); the sources are
    keyed like the Python assets that write them (raw/paper_listings,
    features/listing_keywords), so the asset graph runs from the inbox to the
    marts in one piece.
    """

    def get_asset_spec(
        self, manifest: Mapping[str, Any], unique_id: str, project: Any
    ) -> dg.AssetSpec:
        spec = super().get_asset_spec(manifest, unique_id, project)
        props = self.get_resource_props(manifest, unique_id)
        if props["resource_type"] == "source":
            return spec.replace_attributes(key=dg.AssetKey([props["source_name"], props["name"]]))
        schema = props.get("config", {}).get("schema") or props["schema"]
        return spec.replace_attributes(key=dg.AssetKey([schema, props["name"]]), group_name=schema)


translator = PaperhouseTranslator(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True))


class DbtBuildConfig(dg.Config):
    """Run config of the dbt assets: the nightly schedule sets full_refresh."""

    full_refresh: bool = False


def dbt_build_args(full_refresh: bool) -> list[str]:
    """The dbt command for a run (pure: tested on its own)."""
    return ["build", *dbt_build_flags(full_refresh)]


@dbt_assets(
    manifest=dbt_project.manifest_path, project=dbt_project, dagster_dbt_translator=translator
)
def paperhouse_dbt_models(
    context: dg.AssetExecutionContext,
    dbt: DbtCliResource,
    warehouse: WarehouseResource,
    config: DbtBuildConfig,
) -> Iterator[Any]:
    """dbt build over the selected models: models, data tests and unit tests."""
    url = warehouse.url()
    with build_lock(url):
        # the run config asks for a full refresh; the warehouse may need one anyway
        plan = plan_build(url, config.full_refresh)
        with environment({**dbt_profile_env(url), **plan.bounds}):
            yield from dbt.cli(dbt_build_args(plan.full_refresh), context=context).stream()

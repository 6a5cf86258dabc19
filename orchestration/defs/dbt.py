"""The dbt models as Dagster assets (dagster-dbt); their tests become asset checks."""

from collections.abc import Iterator, Mapping
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtCliResource, dbt_assets

from orchestration.build import (
    built_watermark,
    dbt_build_bounds,
    dbt_build_flags,
    dbt_profile_env,
    needs_full_refresh,
)
from orchestration.features import extracted_through
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


def dbt_build_args(config: DbtBuildConfig) -> list[str]:
    """The dbt command for a run (pure: tested on its own)."""
    return ["build", *dbt_build_flags(config.full_refresh)]


@dbt_assets(manifest=dbt_project.manifest_path, project=dbt_project, dagster_dbt_translator=translator)
def paperhouse_dbt_models(
    context: dg.AssetExecutionContext,
    dbt: DbtCliResource,
    warehouse: WarehouseResource,
    config: DbtBuildConfig,
) -> Iterator[Any]:
    """dbt build over the selected models: models, data tests and unit tests."""
    url = warehouse.url()
    watermark = built_watermark(url)
    if needs_full_refresh(url, watermark):
        config = DbtBuildConfig(full_refresh=True)  # as orchestration.build.dbt_build does
    # what the run takes and tests, as orchestration.build.dbt_build passes it
    bounds = dbt_build_bounds(0 if config.full_refresh else watermark, extracted_through(url))
    with environment({**dbt_profile_env(url), **bounds}):
        yield from dbt.cli(dbt_build_args(config), context=context).stream()

"""The one place where dbt's names become Dagster's asset keys and groups."""

from collections.abc import Mapping
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings

from orchestration.defs.shared import dbt_asset_key


class PaperhouseTranslator(DagsterDbtTranslator):
    """Models are keyed [schema, name] (analytics/dim_papers) and grouped by schema; the sources
    are keyed like the Python assets that write them (raw/paper_listings,
    features/listing_keywords), so the asset graph runs from the inbox to the
    marts in one piece.
    """

    def get_asset_spec(
        self, manifest: Mapping[str, Any], unique_id: str, project: Any
    ) -> dg.AssetSpec:
        spec = super().get_asset_spec(manifest, unique_id, project)
        props = self.get_resource_props(manifest, unique_id)
        key = dbt_asset_key(props)
        if props["resource_type"] == "source":
            return spec.replace_attributes(key=key)
        return spec.replace_attributes(key=key, group_name=key.path[0])


translator = PaperhouseTranslator(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True))

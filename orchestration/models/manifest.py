"""The dbt project as dbt parsed it (dbt/target/manifest.json): the marts and their contracts,
so that no list of marts is kept anywhere else."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from orchestration.models.runner import MANIFEST, manifest_is_stale, parse_project

MARTS_SCHEMA = "analytics"


@dataclass(frozen=True)
class Mart:
    name: str
    columns: dict[str, str | None]  # name: the contract's data type
    exported: bool  # `paperhouse export` writes it (meta `export`)
    append_only: bool  # a history: it keeps every version (incremental_strategy append)


def marts(manifest: Path = MANIFEST) -> list[Mart]:
    """Every model in the marts' schema, in name order. dbt parses the project first if it never
    has, or if a file of it changed since (a checkout upgraded without `make`)."""
    if manifest_is_stale(manifest):
        parse_project()
    return list(_marts(manifest, manifest.stat().st_mtime_ns))


@cache
def _marts(manifest: Path, _version: int) -> tuple[Mart, ...]:
    nodes = json.loads(manifest.read_text())["nodes"].values()
    return tuple(
        sorted(
            (
                Mart(
                    name=node["name"],
                    columns={
                        name: column.get("data_type") for name, column in node["columns"].items()
                    },
                    exported=bool(node["config"].get("meta", {}).get("export", True)),
                    append_only=node["config"].get("incremental_strategy") == "append",
                )
                for node in nodes
                if node["resource_type"] == "model" and node["schema"] == MARTS_SCHEMA
            ),
            key=lambda mart: mart.name,
        )
    )

"""Resources: the warehouse and dbt, configured from the same environment as the CLI."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping

import dagster as dg
from dagster_dbt import DbtCliResource, DbtProject

from orchestration.build import dbt_executable
from orchestration.settings import DBT_PROJECT_DIR, ENVIRONMENT_VARIABLES, Settings
from orchestration.warehouse import prepare


class WarehouseResource(dg.ConfigurableResource):
    """The warehouse, resolved exactly as the CLI resolves it (orchestration.warehouse)."""

    database_url: str | None = None
    home: str | None = None
    inbox: str | None = None
    settle_seconds: str | None = None

    def settings(self) -> Settings:
        overrides = {
            variable: getattr(self, field)
            for field, variable in ENVIRONMENT_VARIABLES.items()
            if getattr(self, field)
        }
        return Settings.from_env({**os.environ, **overrides})

    def url(self) -> str:
        """The warehouse's URL, its schema migrated (the embedded server started if it is the one)."""
        return prepare(self.settings())


def warehouse_from_env() -> WarehouseResource:
    """Every paperhouse variable is optional, and Dagster's EnvVar fails on an
    unset one; so EnvVar stands for the variables that are set, and the CLI's
    defaults (orchestration.settings) for the others."""
    fields = {
        field: dg.EnvVar(variable)
        for field, variable in ENVIRONMENT_VARIABLES.items()
        if os.environ.get(variable)
    }
    return WarehouseResource(**fields)  # type: ignore[arg-type]


dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)


def dbt_resource() -> DbtCliResource:
    return DbtCliResource(project_dir=dbt_project, dbt_executable=dbt_executable())


@contextlib.contextmanager
def environment(variables: Mapping[str, str]) -> Iterator[None]:
    """Set `variables` in this process's environment for the duration of the block.

    dagster-dbt passes the process environment to dbt, and dbt/profiles.yml
    reads the warehouse connection from it.
    """
    saved = {name: os.environ.get(name) for name in variables}
    os.environ.update(variables)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value

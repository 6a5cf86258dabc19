"""Resources: the warehouse and dbt, configured from the same settings as the CLI."""

import contextlib
import os
from collections.abc import Iterator, Mapping

import dagster as dg
from dagster_dbt import DbtCliResource, DbtProject

from orchestration.models.runner import dbt_executable
from orchestration.settings import DBT_PROJECT_DIR, ENVIRONMENT_VARIABLES, Settings
from orchestration.warehouse import prepare

# The settings a run of the pipeline reads, as the UI shows them in the resource's config.
WAREHOUSE_SETTINGS = ("database_url", "home", "inbox", "settle_seconds", "freshness_hours")


class WarehouseResource(dg.ConfigurableResource):
    """The warehouse, resolved exactly as the CLI resolves it (orchestration.warehouse)."""

    database_url: str | None = None
    home: str | None = None
    inbox: str | None = None
    settle_seconds: str | None = None
    freshness_hours: str | None = None

    def settings(self) -> Settings:
        overrides = {
            ENVIRONMENT_VARIABLES[name]: getattr(self, name)
            for name in WAREHOUSE_SETTINGS
            if getattr(self, name)
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
        name: dg.EnvVar(ENVIRONMENT_VARIABLES[name])
        for name in WAREHOUSE_SETTINGS
        if os.environ.get(ENVIRONMENT_VARIABLES[name])
    }
    return WarehouseResource(**fields)  # type: ignore[arg-type]


dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)


def dbt_resource() -> DbtCliResource:
    return DbtCliResource(project_dir=dbt_project, dbt_executable=dbt_executable())


@dg.definitions
def resources() -> dg.Definitions:
    return dg.Definitions(resources={"warehouse": warehouse_from_env(), "dbt": dbt_resource()})


@contextlib.contextmanager
def environment(variables: Mapping[str, str]) -> Iterator[None]:
    """Set `variables` in this process's environment for the duration of the block.

    dagster-dbt starts dbt with this process's environment and takes no other,
    and dbt/profiles.yml reads the warehouse connection from it: this is the
    one way to hand dbt the connection and the build's bounds. Builds take
    turns (orchestration/models/plan.py), so no two blocks overlap in a run.
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

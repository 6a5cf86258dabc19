"""The Dagster code location: every definition under orchestration/defs, found by Dagster
(`dagster dev -m orchestration.definitions`, `dg check defs`)."""

import dagster as dg

from orchestration.settings import PROJECT_ROOT


@dg.definitions
def defs() -> dg.Definitions:
    return dg.load_from_defs_folder(path_within_project=PROJECT_ROOT)

"""When the jobs run unattended: hourly, and a full rebuild every night."""

import dagster as dg

from orchestration.defs.pipeline.jobs import FULL_REBUILD, INGEST_AND_BUILD
from orchestration.settings import Settings

_settings = Settings.from_env()

ingest_schedule = dg.ScheduleDefinition(
    name="ingest_schedule",
    job_name=INGEST_AND_BUILD,
    cron_schedule=_settings.schedule_cron,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Ingest and build even when the sensor is off (PAPERHOUSE_SCHEDULE_CRON, default hourly).",
)

nightly_full_rebuild = dg.ScheduleDefinition(
    name="nightly_full_rebuild",
    job_name=FULL_REBUILD,
    cron_schedule=_settings.rebuild_cron,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="A full refresh every night (PAPERHOUSE_REBUILD_CRON, default 03:30).",
)

"""When the jobs run unattended: hourly, a full rebuild and a backup every night."""

from typing import Any

import dagster as dg

from orchestration.defs.pipeline.backup import BACKUP
from orchestration.defs.pipeline.jobs import FULL_REBUILD, INGEST_AND_BUILD
from orchestration.settings import ENVIRONMENT_VARIABLES, SettingError, Settings

_settings = Settings.from_env()


def _schedule(name: str, setting: str, **definition: Any) -> dg.ScheduleDefinition:
    cron = getattr(_settings, setting)
    try:
        return dg.ScheduleDefinition(name=name, cron_schedule=cron, **definition)
    except dg.DagsterInvalidDefinitionError as exc:
        # Dagster names the schedule; the user set a variable
        raise SettingError(
            f"{ENVIRONMENT_VARIABLES[setting]}={cron!r} is not a cron expression of five fields "
            "(minute hour day month weekday, e.g. '0 * * * *')"
        ) from exc


ingest_schedule = _schedule(
    "ingest_schedule",
    "schedule_cron",
    job_name=INGEST_AND_BUILD,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Ingest and build even when the sensor is off (PAPERHOUSE_SCHEDULE_CRON, default hourly).",
)

nightly_full_rebuild = _schedule(
    "nightly_full_rebuild",
    "rebuild_cron",
    job_name=FULL_REBUILD,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="A full refresh every night (PAPERHOUSE_REBUILD_CRON, default 03:30).",
)

nightly_backup = _schedule(
    "nightly_backup",
    "backup_cron",
    job_name=BACKUP,
    # on only where a folder is chosen: each backup takes about as much disk as the warehouse
    default_status=(
        dg.DefaultScheduleStatus.RUNNING
        if _settings.backup_dir
        else dg.DefaultScheduleStatus.STOPPED
    ),
    description=(
        "A backup into PAPERHOUSE_BACKUP_DIR every night, the newest PAPERHOUSE_BACKUP_KEEP "
        "kept (PAPERHOUSE_BACKUP_CRON, default 03:15); running where the folder is set."
    ),
)

"""The backup job: `paperhouse db backup` run by Dagster, on the schedule `nightly_backup`."""

import dagster as dg

from orchestration.defs.resources import WarehouseResource
from orchestration.models.plan import BUILD_WAIT
from orchestration.warehouse.backup import BackupError
from orchestration.warehouse.backup_folder import back_up

BACKUP = "backup"


@dg.op(
    description=(
        "Dump the warehouse into PAPERHOUSE_BACKUP_DIR under a dated name, then delete all but "
        "the newest PAPERHOUSE_BACKUP_KEEP backups there."
    )
)
def back_up_warehouse(context: dg.OpExecutionContext, warehouse: WarehouseResource) -> dg.Output:
    settings = warehouse.settings()
    if settings.backup_dir is None:
        raise dg.Failure(description="PAPERHOUSE_BACKUP_DIR is not set: no folder to back up into")
    try:
        done = back_up(
            warehouse.url(),
            settings.backup_dir,
            settings.backup_keep,
            on_wait=lambda: context.log.info(BUILD_WAIT),
        )
    except (BackupError, OSError) as exc:  # a message for the run's page, not a traceback
        raise dg.Failure(description=str(exc)) from exc
    counts = done.dumped.counts
    return dg.Output(
        str(done.dumped.path),
        metadata={
            "archive": dg.MetadataValue.path(str(done.dumped.path)),
            "bytes": done.dumped.bytes,
            "files": counts.files,
            "listings": counts.listings,
            "papers": counts.papers,
            "older_backups_removed": [path.name for path in done.removed],
        },
    )


@dg.job(name=BACKUP, description="Back up the warehouse into PAPERHOUSE_BACKUP_DIR.")
def backup() -> None:
    back_up_warehouse()

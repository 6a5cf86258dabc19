"""Backups kept in a folder: an archive a run (`paperhouse db backup`, the Dagster schedule
`nightly_backup`), each named for when it was made, and only the newest few kept.

The folder must exist: a backup folder on a volume that is not mounted would
otherwise be made afresh on the machine's own disk, and the backups would go
where nobody looks. Only archives this module named are ever deleted, and only
after a new archive is whole.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from orchestration.warehouse.backup import BackupError, Dumped, dump, shown

# when it was made, in UTC: names sort as the times do
BACKUP_NAME = re.compile(r"paperhouse-\d{8}T\d{6}Z\.dump")


def backup_name(when: datetime) -> str:
    return f"paperhouse-{when.astimezone(UTC):%Y%m%dT%H%M%SZ}.dump"


def backups_beyond(names: Iterable[str], keep: int, just_made: str) -> list[str]:
    """The backups among `names` to delete so that `keep` remain, oldest first: `just_made`
    and the newest others. Every other name is left alone, and so is `just_made` whatever
    its name says: after the clock was set back it sorts before older backups."""
    if keep < 1:
        raise ValueError("a backup folder keeps at least one backup")
    others = sorted(name for name in names if BACKUP_NAME.fullmatch(name) and name != just_made)
    return others[: max(0, len(others) - (keep - 1))]


@dataclass(frozen=True)
class BackedUp:
    dumped: Dumped
    removed: list[Path]  # older backups deleted, oldest first


def back_up(
    url: str,
    folder: Path,
    keep: int,
    *,
    on_wait: Callable[[], None] | None = None,
    now: datetime | None = None,
) -> BackedUp:
    """Dump the warehouse into `folder` under a name of the time `now`, then delete all but the
    newest `keep` backups there. `on_wait()` is called first if the dump waits for a build."""
    if not folder.is_dir():
        raise BackupError(
            f"the backup folder {shown(folder)} does not exist or is not a folder: make it "
            "(it may be a volume that is not mounted)"
        )
    path = folder / backup_name(now or datetime.now(UTC))
    if path.exists():
        raise BackupError(
            f"{shown(path)} exists: another backup was made in the same second; run it again"
        )
    dumped = dump(url, path, on_wait=on_wait)
    # links are not backups this module wrote, whatever their names
    names = [entry.name for entry in os.scandir(folder) if entry.is_file(follow_symlinks=False)]
    removed = []
    for name in backups_beyond(names, keep, dumped.path.name):
        try:
            (folder / name).unlink()
        except FileNotFoundError:  # a backup run beside this one deleted it first
            continue
        removed.append(folder / name)
    return BackedUp(dumped, removed)

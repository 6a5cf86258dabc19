"""Which files to ingest: walk the given files and folders, leaving out what is not ready.

A file being written is not read half-way: files whose names mark them as
in progress (`*.part`, `*.tmp`, hidden dot-files) are never taken, and in a
folder scan a file modified less than `settle_seconds` ago waits for the next
run. Writers that can, should write `name.part` and rename it when done.

Folders are walked, subfolders included. A path that is no file to read (a
broken symbolic link, a device or pipe, one that cannot be examined) is
unusable: the run reports it as rejected, with the reason.
"""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

IN_PROGRESS_SUFFIXES = (".part", ".partial", ".tmp", ".crdownload", ".download", ".swp")


@dataclass(frozen=True)
class InboxFile:
    path: Path
    size: int
    mtime: float

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def modified_at(self) -> datetime:
        return datetime.fromtimestamp(self.mtime, tz=UTC)


@dataclass(frozen=True)
class PassedOver:
    """A path that was not ingested this run, and why; nothing is recorded for it."""

    path: Path
    reason: str


@dataclass(frozen=True)
class InboxScan:
    files: list[InboxFile]
    passed_over: list[PassedOver]  # not ready yet: the next run looks again
    unusable: list[PassedOver]  # no file to read: reported as rejected


def is_in_progress_name(name: str) -> bool:
    return name.startswith(".") or name.lower().endswith(IN_PROGRESS_SUFFIXES)


def scan(paths: Iterable[Path], *, settle_seconds: float, now: float | None = None) -> InboxScan:
    """The files under `paths` (files or folders, folders walked recursively, in name order)."""
    now = time.time() if now is None else now
    files: list[InboxFile] = []
    passed_over: list[PassedOver] = []
    unusable: list[PassedOver] = []
    seen: set[Path] = set()

    def consider(path: Path, *, named: bool) -> None:
        try:
            info = path.stat()
        except FileNotFoundError:
            reason = "a broken symbolic link" if path.is_symlink() else "no such file"
            unusable.append(PassedOver(path, reason))
            return
        except OSError as exc:
            unusable.append(PassedOver(path, f"cannot be examined: {exc.strerror}"))
            return
        if stat.S_ISDIR(info.st_mode):
            for child in sorted(path.iterdir()):
                if not child.name.startswith("."):
                    consider(child, named=False)
            return
        if not stat.S_ISREG(info.st_mode):
            unusable.append(PassedOver(path, "not a regular file (a device, pipe or socket)"))
            return
        if not named and is_in_progress_name(path.name):
            return  # by convention still being written; not worth a line in the report
        # settle_seconds 0 takes every file: a modification time a moment
        # ahead of `now` (a coarser clock, as /proc's) must not hold one back
        if not named and settle_seconds > 0 and now - info.st_mtime < settle_seconds:
            passed_over.append(
                PassedOver(path, f"changed {now - info.st_mtime:.1f}s ago; may still be being written")
            )
            return
        resolved = path.resolve()
        if resolved in seen:
            return
        seen.add(resolved)
        files.append(InboxFile(path=path, size=info.st_size, mtime=info.st_mtime))

    for path in paths:
        consider(Path(os.path.expanduser(path)), named=True)
    return InboxScan(files=files, passed_over=passed_over, unusable=unusable)

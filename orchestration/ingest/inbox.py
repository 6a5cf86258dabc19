"""Which files to ingest: walk the given files and folders, leaving out what is not ready.

A file being written is not read half-way: files whose names mark them as
in progress (`*.part`, `*.tmp`, hidden dot-files) are never taken, and in a
folder scan a file modified less than `settle_seconds` ago waits for the next
run. Writers that can, should write `name.part` and rename it when done.

Folders are walked, subfolders included. Symbolic links are followed only
while they stay inside the folder being walked: a link out of it is not
read (an inbox must not become a way to load, or echo, any file the
ingesting user can read), and a link back to a folder already walked (a
loop) is not walked again. A path that is no file to read (a broken or
outward link, a device or pipe, one that cannot be examined) is unreadable:
the run reports it as rejected, with the reason.

A file name is bytes: one that is not UTF-8 is shown and stored as text with
U+FFFD for each byte that does not decode, and its bytes are kept beside it.
"""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path

IN_PROGRESS_SUFFIXES = (".part", ".partial", ".tmp", ".crdownload", ".download", ".swp")


def as_text(name: str) -> str:
    """A name or path as valid text: bytes that were not UTF-8 (which Python keeps as lone
    surrogates) become U+FFFD, so it can be stored, printed and sent anywhere."""
    try:
        name.encode("utf-8")
        return name
    except UnicodeEncodeError:
        return name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def name_bytes(name: str) -> bytes | None:
    """The bytes of a file name when they are not UTF-8 (its text alone would lose them), else None."""
    try:
        name.encode("utf-8")
        return None
    except UnicodeEncodeError:
        return os.fsencode(name)


@dataclass(frozen=True)
class InboxFile:
    path: Path
    size: int
    mtime: float

    @cached_property
    def name(self) -> str:
        """The file's name as text (see as_text)."""
        return as_text(self.path.name)

    @cached_property
    def name_bytes(self) -> bytes | None:
        """The name's bytes when they are not UTF-8, else None."""
        return name_bytes(self.path.name)

    @property
    def modified_at(self) -> datetime:
        return datetime.fromtimestamp(self.mtime, tz=UTC)


@dataclass(frozen=True)
class Skipped:
    """A path that was not ingested this run, and why; nothing is recorded for it."""

    path: Path
    reason: str


@dataclass(frozen=True)
class InboxScan:
    files: list[InboxFile]
    not_ready: list[Skipped]  # not ready yet: the next run looks again
    unreadable: list[Skipped]  # no file to read: reported as rejected


def is_in_progress_name(name: str) -> bool:
    return name.startswith(".") or name.lower().endswith(IN_PROGRESS_SUFFIXES)


def is_within(path: str, folder: str) -> bool:
    """Whether the real path `path` is `folder` or lies below it (both resolved)."""
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def scan(paths: Iterable[Path], *, settle_seconds: float, now: float | None = None) -> InboxScan:
    """The files under `paths` (files or folders, folders walked recursively, in name order).

    A path given here is taken even if it is a link; below a given folder,
    a link is followed only to a place inside that folder.
    """
    now = time.time() if now is None else now
    files: list[InboxFile] = []
    not_ready: list[Skipped] = []
    unreadable: list[Skipped] = []
    seen: set[str] = set()  # real paths of files taken and folders walked

    def consider(path: Path, *, root: str | None) -> None:
        """`root`: the real path of the folder being walked, None for a path given by name."""
        named = root is None
        if not named and path.is_symlink():
            target = os.path.realpath(path)
            if not os.path.exists(target):
                unreadable.append(Skipped(path, "a broken symbolic link"))
                return
            if not is_within(target, root):
                unreadable.append(
                    Skipped(path, "a symbolic link out of the folder being ingested; not followed")
                )
                return
        try:
            info = path.stat()
        except FileNotFoundError:
            reason = "a broken symbolic link" if path.is_symlink() else "no such file"
            unreadable.append(Skipped(path, reason))
            return
        except OSError as exc:
            unreadable.append(Skipped(path, f"cannot be examined: {exc.strerror}"))
            return
        if stat.S_ISDIR(info.st_mode):
            real = os.path.realpath(path)
            if real in seen:
                return  # a loop, or a second way into a folder already walked
            seen.add(real)
            try:
                children = sorted(path.iterdir())
            except OSError as exc:
                unreadable.append(Skipped(path, f"cannot be listed: {exc.strerror}"))
                return
            for child in children:
                if not child.name.startswith("."):
                    consider(child, root=real if named else root)
            return
        if not stat.S_ISREG(info.st_mode):
            unreadable.append(Skipped(path, "not a regular file (a device, pipe or socket)"))
            return
        if not named and is_in_progress_name(path.name):
            return  # by convention still being written; not worth a line in the report
        # settle_seconds 0 takes every file: a modification time a moment
        # ahead of `now` (a coarser clock, as /proc's) must not hold one back
        if not named and settle_seconds > 0 and now - info.st_mtime < settle_seconds:
            not_ready.append(
                Skipped(path, f"changed {now - info.st_mtime:.1f}s ago; may still be being written")
            )
            return
        real = os.path.realpath(path)
        if real in seen:
            return
        seen.add(real)
        files.append(InboxFile(path=path, size=info.st_size, mtime=info.st_mtime))

    for path in paths:
        consider(Path(os.path.expanduser(path)), root=None)
    return InboxScan(files=files, not_ready=not_ready, unreadable=unreadable)

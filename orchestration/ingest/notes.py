"""Warnings about one file, collected while it is decoded and parsed, stored in raw.ingested_files.error."""

from __future__ import annotations

import math

MAX_LISTED = 20


class Notes:
    """Warnings in line order, those about the whole file last; short however bad the file is.

    The decoder warns about a batch of lines before the parser reaches them,
    so the order they are told in is not the order of the file.
    """

    def __init__(self) -> None:
        self._notes: list[tuple[int | None, str]] = []
        self._omitted = 0

    def warn(self, message: str, *, line: int | None = None) -> None:
        """Note `message`, about line `line` (from 1) or about the whole file."""
        if len(self._notes) < MAX_LISTED:
            self._notes.append((line, message if line is None else f"line {line}: {message}"))
        else:
            self._omitted += 1

    @property
    def messages(self) -> list[str]:
        in_order = [message for _, message in sorted(self._notes, key=_line_order)]
        if self._omitted:
            return [*in_order, f"... and {self._omitted:,} more warnings"]
        return in_order

    def render(self) -> str | None:
        """One warning a line, or None when there are none."""
        return "\n".join(self.messages) or None

    def __bool__(self) -> bool:
        return bool(self._notes)


def _line_order(note: tuple[int | None, str]) -> float:
    line = note[0]
    return math.inf if line is None else line

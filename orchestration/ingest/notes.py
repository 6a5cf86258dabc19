"""Warnings about one file, collected while it is decoded and parsed, stored in raw.ingested_files.error."""

from __future__ import annotations

MAX_LISTED = 20


class Notes:
    """An ordered list of warnings that stays short however bad the file is."""

    def __init__(self) -> None:
        self._messages: list[str] = []
        self._omitted = 0

    def warn(self, message: str) -> None:
        if len(self._messages) < MAX_LISTED:
            self._messages.append(message)
        else:
            self._omitted += 1

    @property
    def messages(self) -> list[str]:
        if self._omitted:
            return [*self._messages, f"... and {self._omitted:,} more warnings"]
        return list(self._messages)

    def render(self) -> str | None:
        """One warning a line, or None when there are none."""
        return "\n".join(self.messages) or None

    def __bool__(self) -> bool:
        return bool(self._messages)

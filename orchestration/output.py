"""Query results on a terminal: a rich table, CSV or JSON (always valid JSON)."""

from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any
from uuid import UUID

from rich.console import Console
from rich.table import Table
from rich.text import Text

from orchestration.queries import Rows


class OutputFormat(StrEnum):
    """How rows are printed."""

    table = "table"
    csv = "csv"
    json = "json"


class ReportFormat(StrEnum):
    """How a report that is not rows (a status) is printed: it has no CSV form."""

    table = "table"
    json = "json"


def plain(value: Any) -> Any:
    """A value as JSON can hold it."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def as_json(rows: Rows) -> str:
    return json.dumps(
        [dict(zip(rows.columns, map(plain, row), strict=True)) for row in rows.rows], indent=2
    )


def as_csv(rows: Rows) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(rows.columns)
    writer.writerows([[("" if v is None else plain(v)) for v in row] for row in rows.rows])
    return buffer.getvalue()


# Control characters as their Unicode pictures (ESC as ␛) in tables: printed
# raw, an escape sequence in a scraped title would restyle or rewrite the
# user's terminal. JSON and CSV carry them exactly.
_CONTROL_PICTURES = {code: 0x2400 + code for code in range(0x20) if chr(code) not in "\t\n"} | {
    0x7F: 0x2421
}


def visible(value: Any) -> str:
    """A value as text to show: verbatim, but with control characters as their pictures."""
    return "" if value is None else str(plain(value)).translate(_CONTROL_PICTURES)


def cell(value: Any) -> Text:
    """A value as a table shows it: verbatim, never read as rich markup, control characters visible."""
    return Text(visible(value))


def as_table(rows: Rows, title: str | None = None, max_width: int = 80) -> Table:
    table = Table(title=title, title_justify="left")
    for column in rows.columns:
        table.add_column(cell(column), overflow="fold", max_width=max_width)
    for row in rows.rows:
        table.add_row(*map(cell, row))
    return table


def as_record(rows: Rows, title: str | None = None) -> Table:
    """A single row as a two-column table, one field a line: easier to read than a wide row."""
    table = Table(title=title, title_justify="left", show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value", overflow="fold")
    for column, value in zip(rows.columns, rows.rows[0] if rows.rows else (), strict=False):
        table.add_row(cell(column), cell(value))
    return table


def show(rows: Rows, format: OutputFormat, console: Console, title: str | None = None) -> None:
    if format is OutputFormat.json:
        console.file.write(as_json(rows) + "\n")
    elif format is OutputFormat.csv:
        console.file.write(as_csv(rows))
    else:
        console.print(as_table(rows, title))

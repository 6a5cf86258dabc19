"""Query results on a terminal: a rich table, CSV or JSON (always valid JSON)."""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Iterable, Iterator
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from itertools import islice
from typing import Any, TextIO
from uuid import UUID

from rich.console import Console
from rich.table import Table
from rich.text import Text

from orchestration.queries import Rows, RowStream

# The rows a table shows at most: rich lays a table out whole before it
# prints a line, and no one reads thousands of rows on a terminal.
TABLE_ROWS = 1_000


class OutputFormat(StrEnum):
    """How rows are printed."""

    table = "table"
    csv = "csv"
    json = "json"


class ReportFormat(StrEnum):
    """How a report that is not rows (a status) is printed: it has no CSV form."""

    table = "table"
    json = "json"


# A row a line rather than indented: json's C encoder writes only the compact
# layout, at a quarter of the time.
_ROW_ENCODER = json.JSONEncoder()
# JSON has no NaN or infinity, which double precision and numeric hold: as text, spelled as
# PostgreSQL spells them.
_NON_FINITE = {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}
# The types JSON holds as they are (a float may be NaN, which it does not hold).
_AS_IS = frozenset([str, int, bool, type(None)])


def plain(value: Any) -> Any:
    """A value as JSON can hold it."""
    if type(value) in _AS_IS:  # most values of most rows: the one test they need
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else _NON_FINITE[str(value)]
    if isinstance(value, Decimal):
        return _exact_number(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    if isinstance(value, dict):  # json and jsonb
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    return str(value)


def _exact_number(value: Decimal) -> int | float | str:
    """A numeric as JSON holds it without losing a digit: a whole number as an integer of any
    size, a fraction as a float where the float reads back as the same number, any other as
    its digits in a string; NaN and the infinities as PostgreSQL spells them."""
    if not value.is_finite():
        return _NON_FINITE[str(float(value))]
    if value == value.to_integral_value():
        return int(value)
    as_float = float(value)
    return as_float if Decimal(repr(as_float)) == value else str(value)


def csv_cell(value: Any) -> Any:
    """A value as a CSV cell: empty for NULL, a numeric with the digits and scale PostgreSQL
    prints, and an array or a json value as JSON text."""
    if isinstance(value, Decimal):
        return str(value)  # NaN, Infinity and -Infinity spelled as PostgreSQL spells them
    value = plain(value)
    if value is None:
        return ""
    if isinstance(value, list | dict):
        return _ROW_ENCODER.encode(value)
    return value


def records(columns: list[str], rows: Iterable[tuple[Any, ...]]) -> Iterator[dict[str, Any]]:
    """Each row as an object JSON can hold, keyed by column name."""
    keys = unique_names(columns)
    for row in rows:
        yield dict(zip(keys, map(plain, row), strict=True))


def unique_names(columns: list[str]) -> list[str]:
    """The column names, a repeated one numbered (`a`, `a_1`): an object keeps one value a key,
    and `select 1 as a, 2 as a` has two."""
    taken = set(columns)
    names = []
    for name in columns:
        if name in names:
            number = 1
            while f"{name}_{number}" in taken:
                number += 1
            name = f"{name}_{number}"
            taken.add(name)
        names.append(name)
    return names


def write_json(columns: list[str], rows: Iterable[tuple[Any, ...]], file: TextIO) -> None:
    """A JSON array of one object a row, a row a line, written as the rows come."""
    records_left = records(columns, rows)
    # read before anything is written: a query that fails at once writes nothing at all
    first = next(records_left, None)
    if first is None:
        file.write("[]\n")
        return
    file.write("[\n  " + _ROW_ENCODER.encode(first))
    for record in records_left:
        file.write(",\n  " + _ROW_ENCODER.encode(record))
    file.write("\n]\n")


def write_csv(columns: list[str], rows: Iterable[tuple[Any, ...]], file: TextIO) -> None:
    """A header line, then a line a row, written as the rows come."""
    rows_left = iter(rows)
    # read before anything is written: a query that fails at once writes nothing at all
    first = next(rows_left, None)
    writer = csv.writer(file)
    writer.writerow(columns)
    if first is not None:
        writer.writerow(map(csv_cell, first))
    for row in rows_left:
        writer.writerow(map(csv_cell, row))


# Control characters as their Unicode pictures (ESC as ␛) in tables: printed
# raw, an escape sequence in a scraped title would restyle or rewrite the
# user's terminal. The C1 controls (U+0080-U+009F), which terminals obey too
# (U+009B opens a sequence as ESC [ does), have no pictures and show as U+FFFD.
# JSON and CSV carry them exactly.
_CONTROL_PICTURES = (
    {code: 0x2400 + code for code in range(0x20) if chr(code) not in "\t\n"}
    | {0x7F: 0x2421}
    | dict.fromkeys(range(0x80, 0xA0), 0xFFFD)
)
# Where a value must stay on one line (a row of a table, a file name in a progress bar), a tab
# or line break shows as its picture too: a file name may hold either, and shown raw it would
# read as two names.
_ONE_LINE_PICTURES = _CONTROL_PICTURES | {ord("\t"): 0x2409, ord("\n"): 0x240A}


def visible(value: Any, *, one_line: bool = False) -> str:
    """A value as text to show: verbatim, but with control characters as their pictures."""
    if isinstance(value, Decimal):
        return str(value)  # as csv_cell: every digit, and the scale
    pictures = _ONE_LINE_PICTURES if one_line else _CONTROL_PICTURES
    return "" if value is None else str(plain(value)).translate(pictures)


def cell(value: Any, *, one_line: bool = False) -> Text:
    """A value as a table shows it: verbatim, never read as rich markup, control characters visible."""
    return Text(visible(value, one_line=one_line))


def one_line_cell(value: Any) -> Text:
    return cell(value, one_line=True)


def as_table(rows: Rows, title: str | None = None, max_width: int = 80) -> Table:
    """Rows as a table, no value breaking its own line: the marts hold no line breaks, file
    names may."""
    table = Table(title=title, title_justify="left")
    for column in rows.columns:
        table.add_column(one_line_cell(column), overflow="fold", max_width=max_width)
    for row in rows.rows:
        table.add_row(*map(one_line_cell, row))
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
    if format is OutputFormat.table:
        console.print(as_table(rows, title))
    else:
        write_rows(RowStream(rows.columns, iter(rows.rows)), format, console.file)


def first_rows(result: RowStream) -> tuple[Rows, bool]:
    """The first TABLE_ROWS rows of `result`, for a table, and whether it has more."""
    first = list(islice(result.rows, TABLE_ROWS + 1))
    return Rows(result.columns, first[:TABLE_ROWS]), len(first) > TABLE_ROWS


def write_rows(result: RowStream, format: OutputFormat, file: TextIO) -> None:
    """Every row of `result`, as CSV or JSON, written as it is read."""
    write = write_json if format is OutputFormat.json else write_csv
    write(result.columns, result.rows, file)

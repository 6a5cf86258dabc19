"""`paperhouse export`: the marts as CSV or Parquet files, for pandas, spreadsheets and notebooks.

An export is one build's marts, whole: it reads them holding the build's
turn (a running build finishes first, the next one waits), and writes each
file beside its final name, renaming them all over the old ones once every
mart is written. A failed or interrupted export leaves the last one's files
as they were.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
from collections.abc import Callable
from pathlib import Path

import psycopg
from psycopg import sql

from orchestration.models.manifest import marts
from orchestration.models.plan import build_turn
from orchestration.queries import MartsNotBuilt
from orchestration.workers import process_exists

# Parquet is written a row group at a time: rows are fetched a few thousand
# at a time (a batch of Python objects costs several times its data) and
# gathered as Arrow batches into row groups of about ROW_GROUP_BYTES, so
# memory stays flat however big the marts grow, and readers still get row
# groups big enough to scan well.
FETCH_ROWS = 2_000
ROW_GROUP_BYTES = 32 * 1024 * 1024
# A file being written: hidden, beside the file it replaces (a rename within one folder is
# atomic), and named by its process, so that exports of two warehouses to one folder never
# share one and what a killed export left is known for its own.
PARTIAL_NAME = re.compile(r"\.(?P<mart>\w+)\.(?:csv|parquet)\.(?P<pid>\d+)\.partial")


def export_marts(
    url: str, format: str, out_dir: Path, on_wait: Callable[[], None] | None = None
) -> list[Path]:
    """Write every exported mart to `out_dir` as `<mart>.<format>`; the files written.
    `on_wait()` is called first if a build is running and the export waits for it."""
    out_dir.mkdir(parents=True, exist_ok=True)
    exported = [mart.name for mart in marts() if mart.exported]
    # Found before anything is written: at the renames, the files before it would be new
    # and the rest old.
    for mart in exported:
        if (in_the_way := out_dir / f"{mart}.{format}").is_dir():
            raise IsADirectoryError(errno.EISDIR, "a folder has the file's name", str(in_the_way))
    staged: list[tuple[Path, Path]] = []  # (being written, final name)
    try:
        with build_turn(url, on_wait) as conn:
            # Every scan from the table's first page: a large table's scan otherwise starts
            # where another one (a query, an earlier export stopped half-way) left off, and the
            # same marts would be written in another row order.
            conn.execute("set synchronize_seqscans = off")
            remove_abandoned_files(out_dir, exported)
            for mart in exported:
                columns = _columns(conn, mart)
                if not columns:
                    continue  # not built yet: a first build that failed part way
                query = sql.SQL("select {} from analytics.{}").format(
                    sql.SQL(", ").join(sql.Identifier(name) for name, _ in columns),
                    sql.Identifier(mart),
                )
                path = out_dir / f"{mart}.{format}"
                partial = out_dir / f".{path.name}.{os.getpid()}.partial"
                staged.append((partial, path))
                try:
                    if format == "csv":
                        _write_csv(conn, query, partial)
                    else:
                        _write_parquet(conn, query, columns, partial, cursor_name=f"export_{mart}")
                except OSError as exc:
                    if exc.filename != str(partial):
                        raise
                    # the file the user asked for, not the hidden one it is written as
                    raise type(exc)(exc.errno, exc.strerror, str(path)) from exc
        if not staged:
            raise MartsNotBuilt("no mart to export")
        for partial, path in staged:
            os.replace(partial, path)
    finally:
        for partial, _ in staged:
            # what failed is the error to report, not a leftover that cannot be removed
            with contextlib.suppress(OSError):
                partial.unlink(missing_ok=True)
    return [path for _, path in staged]


def remove_abandoned_files(out_dir: Path, exported: list[str]) -> list[Path]:
    """Delete the files of the `exported` marts that an export killed outright left
    half-written in `out_dir` (those of processes that are gone); the paths deleted."""
    removed = []
    for entry in out_dir.iterdir():
        found = PARTIAL_NAME.fullmatch(entry.name)
        if found is None or found["mart"] not in exported or process_exists(int(found["pid"])):
            continue
        # one that cannot be removed (gone meanwhile, a folder) is no reason not to export
        with contextlib.suppress(OSError):
            entry.unlink()
            removed.append(entry)
    return removed


def _columns(conn: psycopg.Connection, mart: str) -> list[tuple[str, str]]:
    return conn.execute(
        "select column_name, udt_name from information_schema.columns "
        "where table_schema = 'analytics' and table_name = %s order by ordinal_position",
        [mart],
    ).fetchall()


def _write_csv(conn: psycopg.Connection, query: sql.Composed, path: Path) -> None:
    # COPY streams the table in PostgreSQL's own CSV writer: no rows in Python.
    copy_sql = sql.SQL("copy ({}) to stdout with (format csv, header)").format(query)
    with conn.cursor() as cursor, cursor.copy(copy_sql) as copy, open(path, "wb") as out:
        for chunk in copy:
            out.write(chunk)


def _arrow_type(udt: str):  # type: ignore[no-untyped-def]
    import pyarrow as pa

    return {
        "int2": pa.int16(),
        "int4": pa.int32(),
        "int8": pa.int64(),
        "numeric": pa.float64(),
        "float8": pa.float64(),
        "bool": pa.bool_(),
        "date": pa.date32(),
        "timestamptz": pa.timestamp("us", tz="UTC"),
        "timestamp": pa.timestamp("us"),
    }.get(udt, pa.string())  # text, uuid and the rest as strings


def _to_arrow_value(udt: str):  # type: ignore[no-untyped-def]
    """How a value of this column becomes one pyarrow takes (uuids as text, numerics as floats)."""
    import pyarrow as pa

    if udt == "numeric":
        return lambda value: None if value is None else float(value)
    if _arrow_type(udt) == pa.string():
        return lambda value: None if value is None else str(value)
    return lambda value: value


def _write_parquet(
    conn: psycopg.Connection,
    query: sql.Composed,
    columns: list[tuple[str, str]],
    path: Path,
    cursor_name: str,
) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    pool = pa.default_memory_pool()
    schema = pa.schema([(name, _arrow_type(udt)) for name, udt in columns])
    converters = [_to_arrow_value(udt) for _, udt in columns]
    # A server-side cursor (it needs a transaction) sends the rows as they are fetched.
    with (
        conn.transaction(),
        conn.cursor(name=cursor_name) as cursor,
        # a file Python opens: pyarrow takes a path as UTF-8 text, which a folder name need not be
        open(path, "wb") as file,
        pq.ParquetWriter(file, schema) as writer,
    ):
        cursor.execute(query)
        group: list[pa.RecordBatch] = []
        group_bytes = 0
        while rows := cursor.fetchmany(FETCH_ROWS):
            batch = pa.record_batch(
                [
                    pa.array([convert(row[i]) for row in rows], type=schema.field(i).type)
                    for i, convert in enumerate(converters)
                ],
                schema=schema,
            )
            group.append(batch)
            group_bytes += batch.nbytes
            if group_bytes >= ROW_GROUP_BYTES:
                writer.write_table(pa.Table.from_batches(group, schema=schema))
                group, group_bytes = [], 0
                # Arrow's allocator keeps freed pages for reuse, and which it reuses
                # varies from run to run: returned now, the peak is one row group's
                # worth, not that plus what earlier groups left behind.
                pool.release_unused()
        if group:
            writer.write_table(pa.Table.from_batches(group, schema=schema))

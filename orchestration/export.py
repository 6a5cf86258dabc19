"""`paperhouse export`: the marts as CSV or Parquet files, for pandas, spreadsheets and notebooks."""

from __future__ import annotations

from pathlib import Path

import psycopg
from psycopg import sql

from orchestration.models.manifest import marts
from orchestration.queries import MartsNotBuilt
from orchestration.warehouse import connect

# Parquet is written a row group at a time: rows are fetched a few thousand
# at a time (a batch of Python objects costs several times its data) and
# gathered as Arrow batches into row groups of about ROW_GROUP_BYTES, so
# memory stays flat however big the marts grow, and readers still get row
# groups big enough to scan well.
FETCH_ROWS = 2_000
ROW_GROUP_BYTES = 32 * 1024 * 1024


def export_marts(url: str, format: str, out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    with connect(url) as conn:
        for mart in (mart.name for mart in marts() if mart.exported):
            columns = _columns(conn, mart)
            if not columns:
                continue  # not built yet: a first build that failed part way
            query = sql.SQL("select {} from analytics.{}").format(
                sql.SQL(", ").join(sql.Identifier(name) for name, _ in columns),
                sql.Identifier(mart),
            )
            path = out_dir / f"{mart}.{format}"
            if format == "csv":
                _write_csv(conn, query, path)
            else:
                _write_parquet(conn, query, columns, path)
            written.append(path)
    if not written:
        raise MartsNotBuilt("no mart to export")
    return written


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
    conn: psycopg.Connection, query: sql.Composed, columns: list[tuple[str, str]], path: Path
) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    pool = pa.default_memory_pool()
    schema = pa.schema([(name, _arrow_type(udt)) for name, udt in columns])
    converters = [_to_arrow_value(udt) for _, udt in columns]
    # A server-side cursor (it needs a transaction) sends the rows as they are fetched.
    with (
        conn.transaction(),
        conn.cursor(name=f"export_{path.stem}") as cursor,
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

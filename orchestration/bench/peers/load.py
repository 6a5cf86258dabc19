"""`python load.py PEER URL FOLDER`: the listing files of FOLDER parsed by paperhouse's parser and
loaded into the database at URL by a peer: `dlt-insert` (dlt's postgres destination, its default
insert_values loader), `dlt-csv` (the same with the csv loader, which COPYs), `pandas` (pandas
`to_sql`, method "multi").

Runs in the peers' own virtual environment (requirements.txt beside it) with the repository on
PYTHONPATH, so only the loading differs from `paperhouse ingest`. orchestration.bench.peers.compare
times it as a whole process.
"""

from __future__ import annotations

import io
import sys
import tempfile
from collections.abc import Iterator
from datetime import date
from pathlib import Path

from orchestration.ingest.decode import decode_lines
from orchestration.ingest.notes import Notes
from orchestration.ingest.parse import Listing, ListingParser

TABLE = "paper_listings"
# Rows per INSERT for pandas' "multi" method: 10 columns a row stay far below the
# 65,535 parameters a PostgreSQL statement may bind.
PANDAS_CHUNK_ROWS = 1_000


def listings(folder: Path) -> Iterator[dict]:
    """Every listing of every file in `folder`, as a row with its file's name."""
    for path in sorted(folder.iterdir()):
        notes = Notes()
        modified_on = date.fromtimestamp(path.stat().st_mtime)
        parser = ListingParser(modified_on=modified_on, notes=notes)
        decoded = decode_lines(io.BytesIO(path.read_bytes()), notes)
        for listing in parser.parse(decoded.batches):
            yield {"file_name": path.name, **listing._asdict()}


def load_with_dlt(url: str, folder: Path, file_format: str) -> None:
    import dlt

    with tempfile.TemporaryDirectory() as pipelines_dir:
        pipeline = dlt.pipeline(
            pipeline_name="peers",
            pipelines_dir=pipelines_dir,
            destination=dlt.destinations.postgres(credentials=url),
            dataset_name="peers",
        )
        pipeline.run(listings(folder), table_name=TABLE, loader_file_format=file_format)


def load_with_pandas(url: str, folder: Path) -> None:
    import pandas as pd
    import sqlalchemy

    engine = sqlalchemy.create_engine(url.replace("postgresql://", "postgresql+psycopg2://", 1))
    frame = pd.DataFrame.from_records(listings(folder), columns=["file_name", *Listing._fields])
    frame.to_sql(
        TABLE,
        engine,
        schema="public",
        if_exists="append",
        index=False,
        method="multi",
        chunksize=PANDAS_CHUNK_ROWS,
    )


if __name__ == "__main__":
    peer, url, folder = sys.argv[1], sys.argv[2], Path(sys.argv[3])
    if peer == "pandas":
        load_with_pandas(url, folder)
    elif peer in ("dlt-insert", "dlt-csv"):
        load_with_dlt(url, folder, "insert_values" if peer == "dlt-insert" else "csv")
    else:
        sys.exit(f"unknown peer {peer!r}: dlt-insert, dlt-csv or pandas")

"""The reference corpus behind keyword IDF: recompute it from the warehouse (`paperhouse calibrate`).

Keyword scores use a fixed document-frequency table (the dbt seed
keyword_document_frequency) rather than the live corpus, so that a paper's
keywords depend on its own text alone: incremental builds then touch only new
papers and still equal a full refresh. Calibrating replaces that table with
the current warehouse's frequencies; a full refresh then rescores every paper.
"""

from __future__ import annotations

from pathlib import Path

from orchestration.build import run_dbt
from orchestration.settings import DBT_PROJECT_DIR
from orchestration.warehouse import connect

ANALYSIS = "keyword_document_frequency"
SEED_FILE = DBT_PROJECT_DIR / "seeds" / f"{ANALYSIS}.csv"
COMPILED = DBT_PROJECT_DIR / "target" / "compiled" / "paperhouse" / "analyses" / f"{ANALYSIS}.sql"


class CalibrationError(RuntimeError):
    pass


def calibrate(url: str, seed_file: Path = SEED_FILE) -> int:
    """Write the warehouse's phrase document frequencies to `seed_file`; return the phrase count."""
    summary = run_dbt(url, ["compile", "--select", ANALYSIS], silent=True)
    if not summary.succeeded or not COMPILED.exists():
        raise CalibrationError(f"dbt could not compile the analysis {ANALYSIS}: {summary.failures}")
    query = COMPILED.read_text().strip().rstrip(";")
    rows = 0
    with connect(url) as conn, conn.cursor() as cursor, open(seed_file, "wb") as out:
        with cursor.copy(f"copy ({query}) to stdout with (format csv, header)") as copy:
            for chunk in copy:
                out.write(chunk)
                rows += bytes(chunk).count(b"\n")
    return max(rows - 1, 0)

"""Recompute the reference corpus behind keyword IDF from the warehouse (`paperhouse calibrate`).

The reference (document_frequency.csv) is fixed between calibrations so that
a paper's keywords depend on its own text alone. Calibrating replaces it with
the current warehouse's phrase frequencies; the extractor's version changes
with it, so the next build re-extracts every listing and rebuilds in full.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import psycopg

from orchestration.keywords.extract import candidates
from orchestration.keywords.vocabulary import (
    DOCUMENT_FREQUENCY_FILE,
    load_vocabulary,
    write_document_frequency,
)
from orchestration.warehouse import connect

# The text each paper's keywords come from: the listing of its abstract.
PAPER_TEXTS = """
select listings.title, listings.abstract
from analytics.dim_papers as papers
inner join raw.paper_listings as listings
    on listings.file_id = papers.abstract_file_id and listings.position = papers.abstract_position
"""
# A phrase seen in a single paper says nothing about how common it is.
MIN_DOCUMENTS = 2


class CalibrationError(RuntimeError):
    pass


def calibrate(url: str, path: Path = DOCUMENT_FREQUENCY_FILE) -> int:
    """Write the warehouse's phrase document frequencies to `path`; return the phrase count."""
    vocabulary = load_vocabulary()
    frequencies: Counter[str] = Counter()
    papers = 0
    with connect(url) as conn, conn.transaction():
        try:
            cursor = conn.cursor(name="paperhouse_calibration")
            cursor.execute(PAPER_TEXTS)
        except psycopg.errors.UndefinedTable as exc:
            raise CalibrationError(
                "the models are not built yet: run `paperhouse build` first"
            ) from exc
        for title, abstract in cursor:
            papers += 1
            frequencies.update(candidates(title, abstract, vocabulary).keys())
    if papers == 0:
        raise CalibrationError("the warehouse has no papers to calibrate on")
    kept = {phrase: count for phrase, count in frequencies.items() if count >= MIN_DOCUMENTS}
    try:
        write_document_frequency(kept, papers, path)
    except OSError as exc:  # a read-only checkout or image, a full disk
        raise CalibrationError(
            f"cannot write the reference {path}: {exc.strerror or exc}; it is left as it was"
        ) from exc
    load_vocabulary.cache_clear()
    return len(kept)

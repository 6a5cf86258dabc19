"""raw.paper_listings' rows written into one binary COPY: by the compiled listing reader where
`make` has built it, else by psycopg's row writer.

A clean listing file (UTF-8, no warning to give: nearly every file) goes
from its bytes to COPY rows in compiled code (`_listings.pyx`), with no
Python object per listing. Any other file, and every file where the module is
not built, is parsed in Python (parse.py), which is the rule the compiled
reader is tested against. One COPY then holds rows of both kinds, so the
compiled module also encodes the parser's listings: psycopg's writer keeps
rows in a buffer of its own, and its rows and bytes written beside them
would not stay in order.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import date
from itertools import islice
from types import ModuleType
from typing import NamedTuple

import psycopg

from orchestration import compiled
from orchestration.ingest.decode import SNIFF_BYTES, UnrecognizedContent, sniff_encoding
from orchestration.ingest.parse import Listing

# The columns ingest fills, in the order each row is written: the file, then a Listing's fields.
LISTING_COLUMNS = ", ".join(("file_id", *Listing._fields))
COPY_LISTINGS = f"copy raw.paper_listings ({LISTING_COLUMNS}) from stdin (format binary)"
LISTING_TYPES = ["int8", "int4", "int4", "text", "text", "int4", "text", "text", "date", "int4"]

_listings = compiled.load(compiled.LISTING_READER)

# The parser's listings are encoded this many at a time: one call and one write per batch.
ENCODE_BATCH = 256


class CleanFile(NamedTuple):
    """What the compiled reader tells of a file it read whole (ListingParser's findings)."""

    listing_count: int
    layout: str
    page_date: date | None


class ListingCopy:
    """Writes listings, or whole clean files, into an open COPY of raw.paper_listings."""

    def __init__(self, copy: psycopg.Copy, reader: ModuleType | None) -> None:
        self._copy = copy
        self._reader = reader  # the compiled module, or None: psycopg writes the rows

    def write_clean_file(self, data: bytes, file_id: int, modified_on: date) -> CleanFile | None:
        """Write the listings of `data`, a whole file, if the compiled reader reads it; None when
        it does not (not built, or the file needs the parser), having written nothing."""
        if self._reader is None:
            return None
        read = read_clean_file(self._reader, data, file_id, modified_on)
        if read is None:
            return None
        rows, clean = read
        self._copy.write(rows)
        return clean

    def write_listings(self, file_id: int, listings: Iterable[Listing]) -> int:
        """Write `listings` (as the parser yields them) as rows of file `file_id`; their count."""
        count = 0
        if self._reader is None:
            for listing in listings:
                self._copy.write_row((file_id, *listing))
                count += 1
            return count
        pending = iter(listings)
        while batch := list(islice(pending, ENCODE_BATCH)):
            self._copy.write(self._reader.encoded_rows(file_id, batch))
            count += len(batch)
        return count


def read_clean_file(
    reader: ModuleType, data: bytes, file_id: int, modified_on: date
) -> tuple[bytes, CleanFile] | None:
    """The COPY rows of `data`, a whole file, and what the reader tells of it; None when the file
    needs the parser."""
    try:
        if sniff_encoding(data[:SNIFF_BYTES]) != "utf-8":
            return None
    except UnrecognizedContent:
        return None  # the parser rejects it, and says why
    read = reader.listing_rows(data, file_id, modified_on)
    if read is None:
        return None
    rows, count, layout, page_date = read
    return rows, CleanFile(count, layout, page_date)


@contextmanager
def listing_copy(cursor: psycopg.Cursor) -> Iterator[ListingCopy]:
    """A COPY of raw.paper_listings on `cursor`, open for the block."""
    # the compiled rows carry text as UTF-8, what the server reads only from a UTF-8 client
    reader = _listings if cursor.connection.info.encoding == "utf-8" else None
    with cursor.copy(COPY_LISTINGS) as copy:
        if reader is None:
            copy.set_types(LISTING_TYPES)
            yield ListingCopy(copy, None)
            return
        # the whole binary stream is written here: psycopg adds neither end for bytes
        copy.write(reader.SIGNATURE)
        yield ListingCopy(copy, reader)
        copy.write(reader.TRAILER)

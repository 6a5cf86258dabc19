"""Helpers for tests of the pure steps: bytes in, listings out, no database."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date

from orchestration.ingest.decode import decode_lines
from orchestration.ingest.notes import Notes
from orchestration.ingest.parse import Listing, ListingParser

A_DAY = date(2026, 11, 21)


@dataclass
class Parsed:
    listings: list[Listing]
    parser: ListingParser
    notes: Notes
    encoding: str

    @property
    def titles(self) -> list[str]:
        return [listing.title for listing in self.listings]


def parse_bytes(data: bytes, modified_on: date = A_DAY) -> Parsed:
    """Decode and parse `data` as the loader does; UnrecognizedContent propagates."""
    notes = Notes()
    decoded = decode_lines(io.BytesIO(data), notes)
    parser = ListingParser(modified_on=modified_on, notes=notes)
    listings = list(parser.parse(decoded.batches))
    return Parsed(listings, parser, notes, decoded.encoding)


def blocks_page(*records: str, page_date: str = "Sep 3") -> bytes:
    """A page in the blocks layout around `records` (already blank-line separated text)."""
    header = [
        "new",
        "Get trending papers in your email inbox!",
        "Subscribe",
        "Daily Papers",
        "byAK and the research community",
        page_date,
    ]
    return "\n\n".join([*header, *records]).encode()

"""Text lines to paper listings: the rules of the three page layouts, with no I/O.

Every layout starts with the listing page's header lines, then gives each
paper as a title line and an abstract line; blank lines carry no meaning.

1. compact: no blank lines; the first title is glued to the word `Subscribe`.
2. blocks: blank-line separated; the header has `Daily Papers` and a page date (`Sep 3`).
3. blocks with metadata: like 2, each abstract followed by an author count
   (`  • 4 authors`) or an organization line, a `·` line and a date line
   (`Jul 1, 2021`, `Oct 6 2`: a date then upvotes).

A header line is never a title or an abstract, wherever it stands.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import NamedTuple

from orchestration.ingest.dates import (
    ListingDate,
    is_listing_date,
    is_page_date,
    parse_listing_date,
    parse_page_date,
)
from orchestration.ingest.decode import UnrecognizedContent
from orchestration.ingest.notes import Notes

# Bump whenever the listings produced from the same bytes would change:
# `paperhouse reingest --outdated` re-parses files read by older versions.
PARSER_VERSION = 1

HEADER_LINES = frozenset(
    {
        "new",
        "Get trending papers in your email inbox once a day!",
        "Get trending papers in your email inbox!",
        "Subscribe",
        "Daily Papers",
        "byAK and the research community",
    }
)
SUBSCRIBE = "Subscribe"
AUTHORS_LINE = re.compile(r"•\s*(?P<count>\d{1,6})\s+authors?")
METADATA_SEPARATOR = "·"
# Real titles stay under 300 characters; a longer "title" is a broken record.
MAX_TITLE_CHARS = 1_000


class Layout(StrEnum):
    COMPACT = "compact"
    BLOCKS = "blocks"
    BLOCKS_WITH_METADATA = "blocks_with_metadata"


@dataclass(frozen=True, slots=True)
class Listing:
    position: int  # order in the file, from 1
    line_number: int  # the title's line, from 1
    title: str
    abstract: str
    authors_count: int | None = None
    organization: str | None = None
    published_text: str | None = None
    published_on: date | None = None
    upvotes: int | None = None


def is_header(text: str) -> bool:
    return text in HEADER_LINES or is_page_date(text)


def is_metadata(text: str) -> bool:
    return (
        text == METADATA_SEPARATOR
        or AUTHORS_LINE.fullmatch(text) is not None
        or is_listing_date(text)
    )


class _Line(NamedTuple):  # a tuple: made for every line, it must cost little
    number: int
    text: str | None  # None: a line too long to read (the decoder warned)


class _Lookahead:
    """Non-blank lines, stripped, with the few lines of lookahead the layouts need."""

    def __init__(self, lines: Iterable[tuple[int, str | None]]) -> None:
        self._lines = iter(lines)
        self._buffer: deque[_Line] = deque()
        self.blank_seen = False
        self.nonblank_seen = 0

    def _pull(self) -> _Line | None:
        for number, text in self._lines:
            if text is not None:
                text = text.strip()
                if not text:
                    self.blank_seen = True
                    continue
            self.nonblank_seen += 1
            return _Line(number, text)
        return None

    def peek(self, ahead: int = 0) -> _Line | None:
        while len(self._buffer) <= ahead:
            line = self._pull()
            if line is None:
                return None
            self._buffer.append(line)
        return self._buffer[ahead]

    def next(self) -> _Line | None:
        return self._buffer.popleft() if self._buffer else self._pull()

    def push_back(self, line: _Line) -> None:
        self._buffer.appendleft(line)


class ListingParser:
    """Parses one file; after `parse()` is exhausted it tells what it found.

    `modified_on` is the file's modification day: the scrape date when the page
    has no page date of its own.
    """

    def __init__(self, modified_on: date, notes: Notes) -> None:
        self.modified_on = modified_on
        self.notes = notes
        self.page_date: date | None = None
        self.header_lines = 0
        self.listings = 0
        self._metadata_seen = False
        self._lines: _Lookahead | None = None

    @property
    def scraped_on(self) -> date:
        return self.page_date or self.modified_on

    @property
    def has_content(self) -> bool:
        return self._lines is not None and self._lines.nonblank_seen > 0

    @property
    def layout(self) -> Layout | None:
        if self.listings == 0 or self._lines is None:
            return None
        if self._metadata_seen:
            return Layout.BLOCKS_WITH_METADATA
        return Layout.BLOCKS if self._lines.blank_seen else Layout.COMPACT

    def parse(self, lines: Iterable[tuple[int, str | None]]) -> Iterator[Listing]:
        """Yield the listings of `lines` (numbered lines, as the decoder gives them).

        Raises UnrecognizedContent when the text is not a listing page.
        """
        stream = self._lines = _Lookahead(lines)
        after_header = False
        while (line := stream.next()) is not None:
            title = line.text
            if title is not None and self._take_header(title):
                after_header = True
                continue
            if title is not None and after_header and title.startswith(SUBSCRIBE):
                # The compact page glues its first title to the Subscribe button.
                title = title[len(SUBSCRIBE) :].strip()
                if self._take_header(title):
                    continue
            after_header = False
            if self.header_lines == 0:
                raise UnrecognizedContent(
                    f"not a listing page: it should start with the page's header lines "
                    f"('Daily Papers', 'Subscribe', ...) but line {line.number} reads {_quote(title)}"
                )
            if title is not None and is_metadata(title):
                self.notes.warn(f"line {line.number}: {_quote(title)} stands where a title should; skipped")
                continue

            abstract = stream.next()
            if abstract is None:
                self.notes.warn(
                    f"line {line.number}: the last listing has a title but no abstract "
                    "(is the file truncated?); skipped"
                )
                break
            if abstract.text is not None and (is_header(abstract.text) or is_metadata(abstract.text)):
                self.notes.warn(f"line {line.number}: a title without an abstract; skipped")
                stream.push_back(abstract)
                continue
            extras = self._take_metadata(stream)

            if title is None or abstract.text is None:
                continue  # a line too long to read: the decoder has said so
            if len(title) > MAX_TITLE_CHARS:
                self.notes.warn(
                    f"line {line.number}: a title of {len(title):,} characters, more than "
                    f"{MAX_TITLE_CHARS:,}; its listing was skipped"
                )
                continue
            self.listings += 1
            yield Listing(
                position=self.listings,
                line_number=line.number,
                title=title,
                abstract=abstract.text,
                **extras,
            )

    def _take_header(self, text: str) -> bool:
        if text in HEADER_LINES:
            self.header_lines += 1
            return True
        if is_page_date(text):
            self.header_lines += 1
            if self.page_date is None:
                self.page_date = parse_page_date(text, self.modified_on)
            return True
        return False

    def _take_metadata(self, stream: _Lookahead) -> dict[str, object]:
        """Consume the optional metadata lines after an abstract (layout 3); return their fields."""
        fields: dict[str, object] = {}
        seen = False
        first = stream.peek(0)
        if first is None or first.text is None:
            return fields
        if authors := AUTHORS_LINE.fullmatch(first.text):
            fields["authors_count"] = int(authors["count"])
            stream.next()
            seen = True
        elif _is_organization(first.text, stream.peek(1)):
            fields["organization"] = first.text
            stream.next()
            seen = True
        separator = stream.peek(0)
        if separator is not None and separator.text == METADATA_SEPARATOR:
            stream.next()
            seen = True
        if not seen:
            return fields
        self._metadata_seen = True
        date_line = stream.peek(0)
        if date_line is None or date_line.text is None:
            return fields
        listing_date = parse_listing_date(date_line.text, self.scraped_on)
        if listing_date is None:
            return fields
        stream.next()
        fields.update(_date_fields(listing_date))
        if listing_date.published_on is None:
            self.notes.warn(
                f"line {date_line.number}: {_quote(listing_date.written)} is not a calendar "
                "date; published_on left empty"
            )
        return fields


def _is_organization(text: str, following: _Line | None) -> bool:
    # An organization line is only recognisable by the `·` line after it.
    return (
        following is not None
        and following.text == METADATA_SEPARATOR
        and not is_metadata(text)
        and not is_header(text)
    )


def _date_fields(listing_date: ListingDate) -> dict[str, object]:
    return {
        "published_text": listing_date.written,
        "published_on": listing_date.published_on,
        "upvotes": listing_date.upvotes,
    }


def _quote(text: str | None, limit: int = 60) -> str:
    if text is None:
        return "(an overlong line)"
    return repr(text if len(text) <= limit else text[: limit - 1] + "…")

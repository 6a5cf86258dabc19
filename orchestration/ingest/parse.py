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
from collections.abc import Iterable, Iterator
from datetime import date
from enum import StrEnum
from typing import NamedTuple

from orchestration.ingest.dates import (
    MAX_COUNT,
    MONTHS,
    bounded_int,
    is_listing_date,
    is_page_date,
    parse_listing_date,
    parse_page_date,
)
from orchestration.ingest.decode import LineBatch, UnrecognizedContent
from orchestration.ingest.notes import Notes

# Bump whenever the listings produced from the same bytes would change:
# `paperhouse reingest --outdated` re-parses files read by older versions.
PARSER_VERSION = 2

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
# Any number of digits: an out-of-range count still makes an authors line (dates.py says why).
AUTHORS_LINE = re.compile(r"•\s*(?P<count>\d+)\s+authors?")
METADATA_SEPARATOR = "·"
# Every header or metadata line starts with one of these: a month (page and
# listing dates), the author count's bullet, the separator, or a header
# line's first word. Every title and abstract is checked for being one, and a
# line that starts otherwise is known to be text by one regex call instead
# of the four the full checks make.
SPECIAL_START = re.compile(
    "|".join(
        re.escape(start)
        for start in (
            *MONTHS,
            "•",
            METADATA_SEPARATOR,
            *sorted({line.split()[0] for line in HEADER_LINES}),
        )
    )
)
# Real titles stay under 300 characters; a longer "title" is a broken record.
MAX_TITLE_CHARS = 1_000
# Pages without metadata pair each title with the next line: a line missing
# or extra shifts every record after it. Only lengths tell: a title longer
# than this and than its abstract is most likely an abstract, and an
# abstract shorter than MIN_ABSTRACT_CHARS most likely a title. (Titles of
# the sample pages run to 171 characters, abstracts from 427.)
SUSPECT_TITLE_CHARS = 300
MIN_ABSTRACT_CHARS = 150
# raw.paper_listings.line_number is an integer: no line past it is read.
MAX_LINE_NUMBER = MAX_COUNT


# Records without metadata on a page with metadata listed in the warnings at most.
MAX_BARE_RECORDS = 20

# The most lines one record spans: title, abstract, then authors or
# organization, `·` and date. The parser keeps this many lines ahead.
RECORD_LINES = 5


class Layout(StrEnum):
    COMPACT = "compact"
    BLOCKS = "blocks"
    BLOCKS_WITH_METADATA = "blocks_with_metadata"


class Listing(NamedTuple):
    """One paper as a page lists it, its fields in raw.paper_listings' column order.

    A tuple rather than a dataclass: ingest makes one per listing, and a
    frozen dataclass costs several times as much to build.
    """

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
        self.has_content = False  # a line that is not blank was read
        self._blank_seen = False
        self._metadata_seen = False
        self._bare_records: list[int] = []  # title lines of records without metadata

    @property
    def scraped_on(self) -> date:
        return self.page_date or self.modified_on

    @property
    def layout(self) -> Layout | None:
        if self.listings == 0:
            return None
        if self._metadata_seen:
            return Layout.BLOCKS_WITH_METADATA
        return Layout.BLOCKS if self._blank_seen else Layout.COMPACT

    def parse(self, batches: Iterable[LineBatch]) -> Iterator[Listing]:
        """Yield the listings of `batches` (numbered lines, as the decoder gives them).

        Raises UnrecognizedContent when the text is not a listing page.
        """
        yield from self._records(batches)
        if self._metadata_seen:
            # Every record of a page with metadata has some: one without is
            # where a line went missing or came in extra.
            for line in self._bare_records:
                self.notes.warn(
                    "no author count, organization or date follows this listing, as they do the "
                    "page's others: a line may be missing or extra here, and the records around "
                    "it out of step",
                    line=line,
                )

    def _records(self, batches: Iterable[LineBatch]) -> Iterator[Listing]:
        # The lines not yet read are texts[i:], numbered by numbers[i:]; a
        # window over a list rather than a line-by-line stream: per-line
        # calls would be most of the cost of ingest.
        pending = self._nonblank(batches)
        numbers: list[int] = []
        texts: list[str | None] = []
        i = 0
        more = True
        after_header = False
        while True:
            if more and len(texts) - i < RECORD_LINES:
                numbers, texts, more = _read_ahead(numbers[i:], texts[i:], pending)
                i = 0
            if i == len(texts):
                return
            number, title = numbers[i], texts[i]
            i += 1
            if number > MAX_LINE_NUMBER:
                self.notes.warn(f"lines past {MAX_LINE_NUMBER:,} are not read", line=number)
                return
            special = title is not None and SPECIAL_START.match(title) is not None
            if special and self._take_header(title):  # type: ignore[arg-type]
                after_header = True
                continue
            if title is not None and after_header and title.startswith(SUBSCRIBE):
                # The compact page glues its first title to the Subscribe button.
                title = title[len(SUBSCRIBE) :].strip()
                if self._take_header(title):
                    continue
                special = SPECIAL_START.match(title) is not None
            after_header = False
            if self.header_lines == 0:
                # The reason never quotes the file: a rejected file's text is
                # stored nowhere else, and it may be anything the user can read.
                raise UnrecognizedContent(
                    f"not a listing page: it should start with the page's header lines "
                    f"('Daily Papers', 'Subscribe', ...) but line {number} is none of them"
                )
            if special and is_metadata(title):  # type: ignore[arg-type]
                self.notes.warn(
                    f"{_quote(title)} stands where a title should; skipped", line=number
                )
                continue

            if i == len(texts):
                self.notes.warn(
                    "the last listing has a title but no abstract (is the file truncated?); skipped",
                    line=number,
                )
                return
            abstract = texts[i]
            if (
                abstract is not None
                and SPECIAL_START.match(abstract) is not None
                and (is_header(abstract) or is_metadata(abstract))
            ):
                self.notes.warn("a title without an abstract; skipped", line=number)
                continue
            i += 1
            extras, i = self._take_metadata(numbers, texts, i)
            if not extras and len(self._bare_records) < MAX_BARE_RECORDS:
                self._bare_records.append(number)

            if title is None or abstract is None:
                continue  # a line too long to read: the decoder has said so
            if len(title) > MAX_TITLE_CHARS:
                self.notes.warn(
                    f"a title of {len(title):,} characters, more than {MAX_TITLE_CHARS:,}; "
                    "its listing was skipped",
                    line=number,
                )
                continue
            if len(title) > SUSPECT_TITLE_CHARS and len(title) > len(abstract):
                self.notes.warn(
                    f"a title of {len(title):,} characters, longer than its abstract: a line may be "
                    "missing or extra here, and the records around it out of step",
                    line=number,
                )
            elif len(abstract) < MIN_ABSTRACT_CHARS:
                self.notes.warn(
                    f"an abstract of {len(abstract):,} characters, shorter than abstracts are: a line "
                    "may be missing or extra here, and the records around it out of step",
                    line=number,
                )
            self.listings += 1
            yield Listing(self.listings, number, title, abstract, *extras)

    def _nonblank(
        self, batches: Iterable[LineBatch]
    ) -> Iterator[tuple[list[int], list[str | None]]]:
        """Each batch's lines that are not blank, stripped, with their numbers."""
        for first_number, lines in batches:
            stripped = [line.strip() if line is not None else None for line in lines]
            kept = [offset for offset, text in enumerate(stripped) if text != ""]
            if len(kept) < len(stripped):
                self._blank_seen = True
                stripped = [stripped[offset] for offset in kept]
            if kept:
                self.has_content = True
                yield [first_number + offset for offset in kept], stripped

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

    def _take_metadata(
        self, numbers: list[int], texts: list[str | None], i: int
    ) -> tuple[tuple, int]:
        """The optional metadata lines from texts[i] on (layout 3): the Listing fields they give, and
        the index of the line after them.
        """
        authors_count: int | None = None
        organization: str | None = None
        end = len(texts)
        first = texts[i] if i < end else None
        if first is None:
            return (), i
        if authors := AUTHORS_LINE.fullmatch(first):
            authors_count = bounded_int(authors["count"])
            if authors_count is None:
                self.notes.warn(
                    f"an author count of {_digits(authors['count'])}, out of range; authors_count left empty",
                    line=numbers[i],
                )
            i += 1
        elif i + 1 < end and _is_organization(first, texts[i + 1]):
            organization = first
            i += 1
        separated = i < end and texts[i] == METADATA_SEPARATOR
        if separated:
            i += 1
        elif authors is None and organization is None:
            return (), i
        self._metadata_seen = True
        fields = (authors_count, organization)
        date_line = texts[i] if i < end else None
        listing_date = None if date_line is None else parse_listing_date(date_line, self.scraped_on)
        if listing_date is None:
            if separated:
                # A page's `·` line stands before a listing's date: a line before it taken for an
                # organization may be the next listing's title, with a stray `·` after it.
                self.notes.warn(
                    "no date follows the '·' line after this listing's authors or organization: "
                    "a line may be missing or extra here, and the records around it out of step",
                    line=numbers[i - 1],
                )
            return fields, i
        if listing_date.published_on is None:
            self.notes.warn(
                f"{_quote(listing_date.written)} is not a calendar date; published_on left empty",
                line=numbers[i],
            )
        if listing_date.upvotes_out_of_range:
            self.notes.warn("an upvote count out of range; upvotes left empty", line=numbers[i])
        return (
            *fields,
            listing_date.written,
            listing_date.published_on,
            listing_date.upvotes,
        ), i + 1


def _read_ahead(
    numbers: list[int],
    texts: list[str | None],
    pending: Iterator[tuple[list[int], list[str | None]]],
) -> tuple[list[int], list[str | None], bool]:
    """The lines left, with batches from `pending` until RECORD_LINES are ahead; and whether more remain."""
    for more_numbers, more_texts in pending:
        numbers += more_numbers
        texts += more_texts
        if len(texts) >= RECORD_LINES:
            return numbers, texts, True
    return numbers, texts, False


def _is_organization(text: str, following: str | None) -> bool:
    # An organization line is only recognisable by the `·` line after it.
    return following == METADATA_SEPARATOR and not is_metadata(text) and not is_header(text)


def _digits(digits: str) -> str:
    """A long number shown by its length rather than in full."""
    return digits if len(digits) <= 20 else f"{len(digits):,} digits"


def _quote(text: str | None, limit: int = 60) -> str:
    if text is None:
        return "(an overlong line)"
    return repr(text if len(text) <= limit else text[: limit - 1] + "…")

"""Dates as listing pages write them: `Sep 3`, `Jul 1, 2021`, `Oct 6 2` (a date, then upvotes)."""

from __future__ import annotations

import re
from datetime import date
from typing import NamedTuple

MONTHS = {
    name: number
    for number, name in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1
    )
}
_MONTH = "|".join(MONTHS)

# The patterns match a line's shape, whatever its numbers: a date line whose
# day, year or count is out of range is still a date line (the values say
# so, below), never taken for a title, which would pair every title after
# it with the wrong abstract.
#
# A page date heads a page: month and day, never a year.
PAGE_DATE = re.compile(rf"(?P<month>{_MONTH})\s+(?P<day>\d+)")
# A listing's date line: a year only ever follows a comma, so a bare number
# after the day is the upvote count (`Oct 6 2`), as in `Oct 21, 2024 3`.
LISTING_DATE = re.compile(
    rf"(?P<written>(?P<month>{_MONTH})\s+(?P<day>\d+)(?:,\s*(?P<year>\d+))?)"
    rf"(?:\s+(?P<upvotes>\d+))?"
)

# The largest count raw.paper_listings' integer columns hold.
MAX_COUNT = 2**31 - 1
# Digits of the largest limit bounded_int is given (MAX_COUNT): a longer number is out of range.
MAX_LIMIT_DIGITS = len(str(MAX_COUNT))


def bounded_int(digits: str, limit: int = MAX_COUNT) -> int | None:
    """The number `digits` write, or None above `limit` (at most MAX_COUNT).

    Converted without its leading zeros and only when it is short enough to
    be in range: Python refuses to convert more than 4,300 digits (leading
    zeros count), and a line may hold 100,000.
    """
    significant = digits.lstrip("0")
    if len(significant) > MAX_LIMIT_DIGITS:
        return None
    number = int(significant) if significant else 0
    return number if number <= limit else None


class ListingDate(NamedTuple):
    """A tuple rather than a frozen dataclass: a third of all listings have one, and a frozen
    dataclass costs several times as much to build."""

    written: str  # the date as written, without the upvote count
    published_on: date | None  # None when the written date does not exist (Feb 30)
    upvotes: int | None  # None when absent or out of range
    upvotes_out_of_range: bool = False


def on_or_before(month: int, day: int, limit: date) -> date | None:
    """The latest date with this month and day that is on or before `limit`.

    Feb 29 goes back to the last leap year; a day that no month has gives None.
    """
    for year in range(limit.year, limit.year - 8, -1):
        try:
            candidate = date(year, month, day)
        except ValueError:
            continue
        if candidate <= limit:
            return candidate
    return None


def is_page_date(text: str) -> bool:
    return PAGE_DATE.fullmatch(text) is not None


def is_listing_date(text: str) -> bool:
    return LISTING_DATE.fullmatch(text) is not None


def parse_page_date(text: str, fallback: date) -> date | None:
    """The page's date (`Sep 3`), placed on or before `fallback` (the file's modification day).

    None if `text` is not a page date or names a day that does not exist.
    """
    match = PAGE_DATE.fullmatch(text)
    if match is None:
        return None
    day = bounded_int(match["day"], 31)
    return None if day is None else on_or_before(MONTHS[match["month"]], day, fallback)


def parse_listing_date(text: str, scraped_on: date) -> ListingDate | None:
    """A listing's date line, with its upvotes; None if `text` is not one."""
    match = LISTING_DATE.fullmatch(text)
    if match is None:
        return None
    month, day = MONTHS[match["month"]], bounded_int(match["day"], 31)
    year = bounded_int(match["year"], 9999) if match["year"] else None
    published_on: date | None = None
    if day is not None and year is not None:
        try:
            published_on = date(year, month, day)
        except ValueError:
            published_on = None
    elif day is not None and not match["year"]:
        published_on = on_or_before(month, day, scraped_on)
    upvotes = bounded_int(match["upvotes"]) if match["upvotes"] else None
    return ListingDate(
        written=match["written"],
        published_on=published_on,
        upvotes=upvotes,
        upvotes_out_of_range=bool(match["upvotes"]) and upvotes is None,
    )

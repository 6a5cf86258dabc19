"""Properties of decoding and parsing over arbitrary input (hypothesis).

Together the properties below draw 13,500 examples a run: the parser never
raises but to reject a file with a reason, never makes a listing out of
page-header or metadata lines (and its quick check for them misses none),
gives back exactly the records a page was
made of whatever its numbers, and says so when stray lines put records
out of step.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orchestration.ingest.dates import LISTING_DATE, MAX_COUNT, MONTHS, PAGE_DATE, is_page_date
from orchestration.ingest.decode import UnrecognizedContent
from orchestration.ingest.parse import (
    AUTHORS_LINE,
    HEADER_LINES,
    MIN_ABSTRACT_CHARS,
    SPECIAL_START,
    SUBSCRIBE,
    is_header,
    is_metadata,
)

from parsing import parse_bytes

HEADERS = [*sorted(HEADER_LINES), "Sep 3", "Dec 11", "Feb 29", "SubscribeDaily Papers"]
METADATA = ["  • 4 authors", "·", "Oct 6 2", "Jul 1, 2021", "furiosa-ai FuriosaAI"]
NEWLINES = st.sampled_from(["\n", "\r\n", "\r", "\n\n"])


def accepted(data: bytes):
    """The parse of `data`, or None when it is rejected: the only failure allowed."""
    try:
        return parse_bytes(data)
    except UnrecognizedContent as exc:
        assert str(exc), "a rejection always gives a reason"
        return None


@settings(max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=4096))
def test_the_parser_never_raises_on_arbitrary_bytes(data):
    accepted(data)


listing_like_lines = st.one_of(
    st.sampled_from(HEADERS),
    st.sampled_from(METADATA),
    st.text(max_size=120),
    st.text(alphabet=st.characters(codec="utf-8"), min_size=200, max_size=600),
)


@settings(max_examples=3000, deadline=None)
@given(
    lines=st.lists(listing_like_lines, max_size=40),
    newline=NEWLINES,
    encoding=st.sampled_from(["utf-8", "utf-16", "utf-8-sig"]),
)
def test_the_parser_never_raises_on_listing_like_text(lines, newline, encoding):
    data = newline.join(["Daily Papers", *lines]).encode(encoding, errors="surrogatepass")
    accepted(data)


shaped_lines = st.one_of(
    st.text(max_size=60),
    st.sampled_from([line.strip() for line in HEADERS + METADATA]),
    st.from_regex(PAGE_DATE, fullmatch=True),
    st.from_regex(LISTING_DATE, fullmatch=True),
    st.from_regex(AUTHORS_LINE, fullmatch=True),
)


@settings(max_examples=1000, deadline=None)
@given(shaped_lines)
def test_the_quick_check_misses_no_header_or_metadata_line(line):
    if is_header(line) or is_metadata(line):
        assert SPECIAL_START.match(line), line


@settings(max_examples=2000, deadline=None)
@given(lines=st.lists(st.sampled_from([*HEADERS, ""]), max_size=60), newline=NEWLINES)
def test_header_lines_alone_never_make_a_listing(lines, newline):
    parsed = accepted(newline.join(lines).encode())
    assert parsed is None or parsed.listings == []


@settings(max_examples=2000, deadline=None)
@given(
    lines=st.lists(
        st.one_of(st.sampled_from(HEADERS), st.text(min_size=1, max_size=80)), max_size=40
    )
)
def test_no_listing_has_a_header_line_for_title_or_abstract(lines):
    parsed = accepted("\n".join(["new", *lines]).encode("utf-8", errors="surrogatepass"))
    for listing in parsed.listings if parsed else []:
        for text in (listing.title, listing.abstract):
            assert text not in HEADER_LINES and not is_page_date(text)


# ---------- records stay in step
#
# A page is generated from known records, in any layout, with numbers of any
# size; the parser must give back exactly those records. Then lines are
# slipped in where they do not belong: the records away from them must still
# come back, and a page whose records did go out of step must say so.

from datetime import date  # noqa: E402


def is_plain(text: str) -> bool:
    """A line that can only be a title, an abstract or an organization."""
    return (
        bool(text)
        and not is_header(text)
        and not is_metadata(text)
        and not text.startswith(SUBSCRIBE)
    )


def plain_lines(min_size: int, max_size: int) -> st.SearchStrategy[str]:
    # No control characters (a page dense with them is taken for binary
    # content), no lone surrogates (not encodable); ends stripped, as the
    # parser strips them.
    alphabet = st.characters(exclude_categories=("Cs", "Cc"))
    return st.text(alphabet, min_size=min_size, max_size=max_size).map(str.strip).filter(is_plain)


numbers = st.one_of(
    st.integers(0, 2_000),
    st.integers(0, 10**12),
    st.integers(0, 10**40),
    st.just(MAX_COUNT),
    st.just(MAX_COUNT + 1),
)


@st.composite
def records(draw, *, metadata: bool, long_abstracts: bool = False) -> dict:
    record = {
        "title": draw(plain_lines(1, 120)),
        "abstract": draw(plain_lines(301, 400) if long_abstracts else plain_lines(1, 400)),
        # (titles stay shorter than MIN_ABSTRACT_CHARS, as real ones are)
    }
    if metadata:
        month = draw(st.sampled_from(sorted(MONTHS)))
        day, year, upvotes = draw(numbers), draw(st.none() | numbers), draw(st.none() | numbers)
        written = f"{month} {day}" + (f", {year}" if year is not None else "")
        record["date_line"] = written + (f" {upvotes}" if upvotes is not None else "")
        record["published_text"] = written
        record["upvotes"] = upvotes if upvotes is not None and upvotes <= MAX_COUNT else None
        if year is not None:
            try:
                record["published_on"] = date(year, MONTHS[month], day) if year <= 9999 else None
            except (ValueError, OverflowError):
                record["published_on"] = None
        if draw(st.booleans()):
            count = draw(numbers)
            record["meta_lines"] = [
                f"  • {count} author{'s' if count != 1 else ''}",
                "·",
                record["date_line"],
            ]
            record["authors_count"] = count if count <= MAX_COUNT else None
        else:
            record["organization"] = draw(plain_lines(1, 40))
            record["meta_lines"] = [record["organization"], "·", record["date_line"]]
    return record


@st.composite
def pages(draw, *, long_abstracts: bool = False) -> tuple[str, list[list[str]], list[dict]]:
    """A layout, the page's record blocks (each a list of lines, the header first), and the records."""
    layout = draw(st.sampled_from(["compact", "blocks", "blocks_with_metadata"]))
    recs = draw(
        st.lists(
            records(metadata=layout == "blocks_with_metadata", long_abstracts=long_abstracts),
            min_size=1,
            max_size=12,
        )
    )
    blocks = [[r["title"], r["abstract"], *r.get("meta_lines", [])] for r in recs]
    if layout == "compact":
        header = ["new", "Get trending papers in your email inbox!"]
        blocks[0] = [SUBSCRIBE + blocks[0][0], *blocks[0][1:]]
    else:
        header = ["new", "Daily Papers", "byAK and the research community", "Sep 3"]
    return layout, [header, *blocks], recs


def render(layout: str, blocks: list[list[str]]) -> bytes:
    lines = [line for block in blocks for line in block]
    return ("\n" if layout == "compact" else "\n\n").join(lines).encode("utf-8")


def parsed_records(data: bytes) -> list[dict]:
    parsed = parse_bytes(data)
    return parsed, [{"title": x.title, "abstract": x.abstract} for x in parsed.listings]


def same_fields(listing, record: dict) -> bool:
    expected = {
        "authors_count": record.get("authors_count"),
        "organization": record.get("organization"),
        "published_text": record.get("published_text"),
        "upvotes": record.get("upvotes"),
    }
    if "published_on" in record:
        expected["published_on"] = record["published_on"]
    return all(getattr(listing, name) == value for name, value in expected.items())


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(page=pages())
def test_records_of_any_layout_and_any_numbers_come_back_exactly(page):
    layout, blocks, recs = page
    parsed = parse_bytes(render(layout, blocks))
    assert [(x.title, x.abstract) for x in parsed.listings] == [
        (r["title"], r["abstract"]) for r in recs
    ]
    for listing, record in zip(parsed.listings, recs, strict=True):
        assert same_fields(listing, record), (listing, record)
    if all(len(r["abstract"]) >= MIN_ABSTRACT_CHARS for r in recs):
        assert not any("out of step" in message for message in parsed.notes.messages)


stray_lines = st.one_of(
    plain_lines(1, 80),
    st.sampled_from(HEADERS + METADATA + ["·", "  • 7 authors"]),
    st.builds(lambda m, n: f"{m} {n}", st.sampled_from(sorted(MONTHS)), numbers),
)


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(page=pages(long_abstracts=True), data=st.data())
def test_a_stray_line_never_shifts_records_silently(page, data):
    layout, blocks, recs = page
    # One to three stray lines, each slipped in after a line of a record block
    # (in the compact layout, not between the header and the title glued to it).
    body = [line for block in blocks[1:] for line in block]
    first = 1 if layout == "compact" else 0
    strays = data.draw(
        st.lists(st.tuples(st.integers(first, len(body)), stray_lines), min_size=1, max_size=3)
    )
    lines = list(body)
    for at, stray in sorted(strays, reverse=True):
        lines.insert(at, stray)
    parsed = parse_bytes(render(layout, [blocks[0], lines]))

    got = [(x.title, x.abstract) for x in parsed.listings]
    for title, abstract in got:
        for text in (title, abstract):
            assert not is_header(text) and not is_metadata(text), (title, abstract)
    # Stray lines may pair up into records of their own, which no parser can
    # tell from real ones; but a record that went missing is always told.
    if any((r["title"], r["abstract"]) not in got for r in recs):
        assert parsed.notes, "records went out of step without a warning"
    if layout == "blocks_with_metadata":
        # The parser finds its step again at the next metadata: a record more
        # than one record away from every stray line comes back.
        starts, at = [], 0
        for block in blocks[1:]:
            starts.append(at)
            at += len(block)
        near = {
            index
            for position, _ in strays
            for index, start in enumerate(starts)
            if start - len(blocks[index + 1]) <= position <= start + 2 * len(blocks[index + 1])
        }
        for index, record in enumerate(recs):
            if index not in near:
                assert (record["title"], record["abstract"]) in got, (index, near, strays)

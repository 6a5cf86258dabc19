"""The compiled listing reader (_listings.pyx) against the Python parser it compiles.

Wherever the compiled reader reads a file, it must give the rows psycopg
would write for the parser's listings, byte for byte, and tell the same of
the file; wherever the parser would warn or reject, it must give way.
"""

from __future__ import annotations

import shutil
from datetime import date

import psycopg
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from orchestration.bench.corpus import generate_files
from orchestration.ingest import decode, listing_copy, parse
from orchestration.ingest.batch import ingest_paths
from orchestration.ingest.dates import MAX_COUNT, MONTHS
from orchestration.ingest.decode import UnrecognizedContent
from orchestration.ingest.parse import HEADER_LINES

from conftest import SEEDS, fresh_database
from parsing import parse_bytes

FILE_ID = 2**40 + 7  # past int4: the file id is written as int8
A_DAY = date(2024, 3, 1)
_listings = listing_copy._listings


@pytest.fixture(autouse=True)
def _compiled():
    assert _listings is not None, "run `make bootstrap`: the listing reader is not compiled"


def read_both_ways(data: bytes, modified_on: date = A_DAY) -> str:
    """Read `data` compiled and with the parser; check they agree, and say who read it."""
    fast = listing_copy.read_clean_file(_listings, data, FILE_ID, modified_on)
    try:
        parsed = parse_bytes(data, modified_on)
    except UnrecognizedContent:
        assert fast is None
        return "rejected"
    if fast is None:
        return "parser"
    rows, (count, layout, page_date) = fast
    assert parsed.notes.render() is None, "the compiled reader read a file the parser warns of"
    assert parsed.encoding == "utf-8"
    assert rows == _listings.encoded_rows(FILE_ID, parsed.listings)
    assert count == len(parsed.listings)
    assert layout == parsed.parser.layout.value
    assert page_date == parsed.parser.page_date
    return "compiled"


def test_the_compiled_reader_knows_the_limits_and_words_of_the_parser():
    shared = {
        **_listings.SHARED,
        "HEADER_LINES": set(_listings.SHARED["HEADER_LINES"]),
        "SPECIAL_WORDS": set(_listings.SHARED["SPECIAL_WORDS"]),
    }
    assert shared == {
        "MAX_LINE_CHARS": decode.MAX_LINE_CHARS,
        "MAX_TITLE_CHARS": parse.MAX_TITLE_CHARS,
        "SUSPECT_TITLE_CHARS": parse.SUSPECT_TITLE_CHARS,
        "MIN_ABSTRACT_CHARS": parse.MIN_ABSTRACT_CHARS,
        "MAX_COUNT": MAX_COUNT,
        "MONTHS": "".join(MONTHS),
        "HEADER_LINES": {line.encode() for line in HEADER_LINES},
        "SPECIAL_WORDS": {line.split()[0].encode() for line in HEADER_LINES},
        "BULLET": parse.AUTHORS_LINE.pattern[0].encode(),
        "SEPARATOR": parse.METADATA_SEPARATOR.encode(),
    }


def test_the_sample_files_and_the_synthetic_inbox_are_read_compiled():
    # the speed of ingest rests on this: a clean file that falls back to the parser costs five times as much
    files = [seed.read_bytes() for seed in sorted(SEEDS.iterdir())]
    files += [synthetic.text.encode() for synthetic in generate_files(3_000, seed=5)]
    assert [read_both_ways(data) for data in files] == ["compiled"] * len(files)


# Pieces of lines that take the reader's every branch: the patterns' first
# words, digits and spaces beyond ASCII (which the parser's patterns take
# and the reader must leave to it), control characters (a page of too many
# is binary content), the separator and the bullet.
PIECES = st.sampled_from(
    [
        *("Jan", "Feb", "Sep", "Nov", "Dec", "May"),
        *("Get", "new", "Daily", "Subscribe", "byAK"),
        *(" ", "  ", "\t", "\x1c", "\xa0", "\u2028", "\u3000", "\u2009", "\x01", "\x0b"),
        *(
            "1",
            "3",
            "29",
            "31",
            "2021",
            "0",
            "00000000000000000007",
            "99999999999",
            "\u0663",
            "\uff17",
        ),
        *(",", "·", "•", "authors", "author", "é", "漢字", "word", "Nets", ":", "-"),
    ]
)
fragments = st.lists(PIECES, max_size=6).map("".join)
titles = st.one_of(
    st.tuples(
        fragments, st.sampled_from(["Novel Nets", "Marvels of Transfer", "Getting There"])
    ).map("".join),
    fragments,
    st.integers(250, 1_100).map(lambda n: ("Title words " * 100)[:n]),
)
abstracts = st.one_of(
    st.tuples(fragments, st.integers(140, 400), fragments).map(
        lambda a: a[0] + ("An abstract sentence. " * 20)[: a[1]] + a[2]
    ),
    fragments,
)
authors_lines = st.sampled_from(
    [
        "  • 4 authors",
        "•1 author",
        "• 0 authors",
        "• 00000000000000000000000000004 authors",
        "• 99999999999 authors",
        "• \u0664 authors",
        "•\u20094 authors",
    ]
)
organizations = st.sampled_from(["furiosa-ai FuriosaAI", "Sep 3", "• 4 authors", "Nov", "·"])
date_lines = st.sampled_from(
    [
        "Jul 1, 2021",
        "Oct 6 2",
        "Oct 21, 2024 3",
        "Feb 29",
        "Feb 29, 2023",
        "Feb 30",
        "Jan 1, 1",
        "Dec 31, 9999",
        "Dec 31, 0",
        "Jan 1, 10000",
        "Mar 3 99999999999",
        "Mar 3 2147483647",
        "Apr 5,2020  7",
        "May\u00a05",
        "Jun 7\u0663",
        "Sep 3 \u2028",
    ]
)
metadata = st.one_of(
    st.tuples(authors_lines, st.just("·"), date_lines).map(list),
    st.tuples(organizations, st.just("·"), date_lines).map(list),
    st.tuples(st.one_of(authors_lines, date_lines), st.one_of(date_lines, fragments)).map(list),
)
headers = st.lists(
    st.sampled_from([*sorted(HEADER_LINES), "Sep 3", "Feb 29", "Feb 30", "Dec 99", "Jan 0"]),
    min_size=1,
    max_size=7,
)


# What clean pages hold: the reader must read these itself, whatever their words.
clean_titles = st.tuples(
    st.sampled_from(["", "Nov", "Mayfly ", "Getting ", "newt ", "Subscribers ", "Daily "]),
    st.text(st.sampled_from("ab é漢·•-:,0123 "), max_size=40),
    st.sampled_from(["Nets", "Marvels of Transfer", "é", "漢字"]),
).map("".join)
clean_abstracts = st.tuples(
    st.text(st.sampled_from("ab é漢·•0 \t"), max_size=40), st.integers(150, 900)
).map(lambda a: "Abstract " + a[0] + "x" * a[1])
clean_metadata = st.tuples(
    st.one_of(
        st.sampled_from(["  • 4 authors", "•1 author", "• 007 authors", "• 2147483647 authors"]),
        st.sampled_from(["furiosa-ai FuriosaAI", "Université", "Nov Labs"]),
    ),
    st.sampled_from(
        [
            "Jul 1, 2021",
            "Oct 6 2",
            "Oct 21, 2024 3",
            "Feb 29",
            "Jan 1, 1",
            "Dec 31, 9999",
            "Apr 5,2020  7",
            "Sep 3",
        ]
    ),
).map(lambda m: [m[0], "·", m[1]])
clean_headers = st.lists(
    st.sampled_from([*sorted(HEADER_LINES), "Sep 3", "Feb 29", "Dec 31"]), min_size=1, max_size=7
)


@st.composite
def listing_files(draw) -> bytes:
    """A listing page: in half the examples built of what clean pages hold, in the others of
    anything, odd pieces included."""
    clean = draw(st.booleans())
    lines = draw(clean_headers if clean else headers)
    glued = draw(st.booleans())  # the compact page glues its first title to `Subscribe`
    with_metadata = draw(st.booleans())
    for number in range(draw(st.integers(int(clean), 6))):
        title = draw(clean_titles if clean else titles)
        lines += [
            "Subscribe" + title if glued and number == 0 else title,
            draw(clean_abstracts if clean else abstracts),
        ]
        if with_metadata:
            lines += draw(clean_metadata if clean else metadata)
    if not clean and draw(st.booleans()):  # a stray line somewhere
        lines.insert(draw(st.integers(0, len(lines))), draw(st.one_of(fragments, date_lines)))
    newlines = ["\n", "\n\n", "\n \n", "\n\t\n"] + ([] if clean else ["\r\n"])
    ending = draw(st.sampled_from(["", "\n", "\n\n", "  "]))
    return (draw(st.sampled_from(newlines)).join(lines) + ending).encode()


@settings(max_examples=3_000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=listing_files(), modified_on=st.dates(date(1, 1, 1), date(9999, 12, 31)))
@example(
    data=b"Daily Papers\n\nSep 3\n\n" + b"Title\n\n" + b"a" * 150, modified_on=date(2024, 1, 1)
)
@example(data=b"Daily Papers\nFeb 29\nTitle\n" + b"a" * 150, modified_on=date(3, 3, 1))
@example(data=b"Daily Papers\nTitle\n\x1c\x1c\x1c\x1c" + b"a" * 150, modified_on=date(2000, 1, 1))
def test_the_compiled_reader_reads_any_listing_file_as_the_parser(data, modified_on):
    read_both_ways(data, modified_on)


@settings(max_examples=2_000, deadline=None)
@given(st.binary(max_size=600))
def test_the_compiled_reader_reads_any_bytes_as_the_parser(tail):
    read_both_ways(b"Daily Papers\n\n" + tail)
    read_both_ways(b"Daily Papers\nTitle\n" + b"a" * 150 + b"\n" + tail)


def ledger_and_listings(url: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(
            """
            select f.file_name, f.status, f.listing_count, f.error, f.layout, f.encoding,
                   f.scraped_on, l.position, l.line_number, l.title, l.abstract,
                   l.authors_count, l.organization, l.published_text, l.published_on, l.upvotes
            from raw.ingested_files as f
            left join raw.paper_listings as l using (file_id)
            order by f.file_name, l.position
            """
        ).fetchall()


def test_ingest_stores_the_same_with_the_compiled_reader_and_without(
    server_url, template_db, tmp_path, monkeypatch
):
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    for seed in sorted(SEEDS.iterdir()):
        shutil.copy2(seed, inbox / seed.name)
    page = (SEEDS / "004_ac28443d9d5bf3bd.txt").read_bytes()
    # files the parser reads: line ends, a Windows-1252 line, dates at the ends of the calendar
    (inbox / "crlf.txt").write_bytes(page.replace(b"\n", b"\r\n"))
    (inbox / "cp1252.txt").write_bytes(page.replace(b"research community", b"recherch\xe9", 1))
    (inbox / "calendar.txt").write_bytes(
        page.replace(b"\nJul", b"\nJan 1, 1\n\xc2\xb7\nJul", 1).replace(
            b"Jul ", b"Dec 31, 9999 ", 1
        )
    )
    (inbox / "rejected.txt").write_bytes(b"%PDF-1.7 not a listing page")
    stored = []
    for reader in (_listings, None):
        monkeypatch.setattr(listing_copy, "_listings", reader)
        with fresh_database(server_url, template_db) as url:
            batch = ingest_paths(url, [inbox], settle_seconds=0, workers=1)
            assert batch.listings_loaded > 0
            stored.append(ledger_and_listings(url))
    compiled, python = stored
    assert compiled == python
    assert {row[0] for row in compiled} == {path.name for path in inbox.iterdir()}

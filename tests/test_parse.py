"""The parser on the five sample files and on crafted pages: pure, no database."""

from __future__ import annotations

from datetime import date

import pytest

from orchestration.ingest.decode import MAX_LINE_CHARS, UnrecognizedContent
from orchestration.ingest.parse import HEADER_LINES, MAX_TITLE_CHARS, Layout

from conftest import SEED_COUNTS, SEED_DISTINCT_TITLES, SEED_LISTINGS, SEEDS
from parsing import A_DAY, blocks_page, parse_bytes

ABSTRACT = "We study things at length. " * 20


def seed(name: str, modified_on: date = A_DAY):
    return parse_bytes((SEEDS / name).read_bytes(), modified_on)


@pytest.mark.parametrize("name,count", sorted(SEED_COUNTS.items()))
def test_each_sample_file_gives_its_known_number_of_listings(name, count):
    parsed = seed(name)
    assert len(parsed.listings) == count
    assert [listing.position for listing in parsed.listings] == list(range(1, count + 1))
    assert not parsed.notes, parsed.notes.messages


def test_samples_hold_632_listings_and_558_distinct_titles():
    titles = [t for name in SEED_COUNTS for t in seed(name).titles]
    assert len(titles) == SEED_LISTINGS
    assert len(set(titles)) == SEED_DISTINCT_TITLES


def test_no_header_line_becomes_a_listing_in_the_samples():
    for name in SEED_COUNTS:
        for listing in seed(name).listings:
            assert listing.title not in HEADER_LINES
            assert not listing.title.startswith("Subscribe")
            assert len(listing.abstract) > len(listing.title)


def test_compact_layout_unglues_the_first_title_from_subscribe():
    parsed = seed("000_992833ff42967d4f.txt")
    assert parsed.parser.layout is Layout.COMPACT
    first = parsed.listings[0]
    assert first.title == (
        "Chimera: Effectively Modeling Multivariate Time Series with 2-Dimensional State Space Models"
    )
    assert first.line_number == 3
    assert first.abstract.startswith(
        "Modeling multivariate time series is a well-established problem"
    )
    assert parsed.listings[1].line_number == 5
    # no page date: the scrape date is the file's modification day
    assert parsed.parser.page_date is None
    assert parsed.parser.scraped_on == A_DAY


def test_compact_layout_keeps_accented_and_greek_characters():
    titles = seed("000_992833ff42967d4f.txt").titles
    assert (
        "Fréchet Cumulative Covariance Net for Deep Nonlinear Sufficient Dimension Reduction "
        "with Random Objects"
    ) in titles
    assert (
        "Forward χ^2 Divergence Based Variational Importance Sampling"
        in seed("001_80df0e5555d80d65.txt").titles
    )


def test_blocks_layout_reads_the_page_date_and_line_numbers():
    parsed = seed("002_ee19567c067055aa.txt", modified_on=date(2026, 11, 21))
    assert parsed.parser.layout is Layout.BLOCKS
    assert parsed.parser.page_date == date(2026, 9, 3)
    first = parsed.listings[0]
    assert (first.title, first.line_number) == ("Symbolic Synthesis of Neural Networks", 13)
    assert first.authors_count is first.published_on is first.upvotes is None


def test_page_date_takes_the_year_that_puts_it_on_or_before_the_modification_day():
    # Dec 11 cannot be in 2026 when the file was written on 2026-11-21.
    assert seed("004_ac28443d9d5bf3bd.txt").parser.page_date == date(2025, 12, 11)
    assert seed("004_ac28443d9d5bf3bd.txt", date(2026, 12, 11)).parser.page_date == date(
        2026, 12, 11
    )


def test_metadata_layout_fields_on_chosen_records():
    parsed = seed("004_ac28443d9d5bf3bd.txt")
    assert parsed.parser.layout is Layout.BLOCKS_WITH_METADATA
    by_title = {listing.title: listing for listing in parsed.listings}

    first = parsed.listings[0]
    assert first.title == "Polarized Self-Attention: Towards High-quality Pixel-wise Regression"
    assert (first.authors_count, first.published_text, first.published_on, first.upvotes) == (
        4,
        "Jul 1, 2021",
        date(2021, 7, 1),
        None,
    )

    # `Sep 30 3`: no year (placed before the page date, Dec 11 2025), then 3 upvotes
    multiplication = by_title[
        "Why Can't Transformers Learn Multiplication? Reverse-Engineering Reveals Long-Range "
        "Dependency Pitfalls"
    ]
    assert (multiplication.authors_count, multiplication.published_text) == (8, "Sep 30")
    assert (multiplication.published_on, multiplication.upvotes) == (date(2025, 9, 30), 3)

    # `Oct 21, 2024 3`: a year and upvotes
    selecting = by_title[
        "Selecting Influential Samples for Long Context Alignment via Homologous Models' Guidance "
        "and Contextual Awareness Measurement"
    ]
    assert (selecting.authors_count, selecting.published_on, selecting.upvotes) == (
        10,
        date(2024, 10, 21),
        3,
    )

    # an organization instead of an author count
    parallel = by_title[
        "ParallelBench: Understanding the Trade-offs of Parallel Decoding in Diffusion LLMs"
    ]
    assert (parallel.authors_count, parallel.organization) == (None, "furiosa-ai FuriosaAI")
    assert (parallel.published_on, parallel.upvotes) == (date(2025, 10, 6), 2)
    assert (
        by_title[
            "Attention Illuminates LLM Reasoning: The Preplan-and-Anchor Rhythm Enables Fine-Grained "
            "Policy Optimization"
        ].organization
        == "alibaba-inc alibaba-inc"
    )

    # `Jan 15`: after the page's Dec 11 would be in the future, so the same year's January
    multilingual = by_title[
        "Multilingual LLMs Struggle to Link Orthography and Semantics in Bilingual Word Processing"
    ]
    assert multilingual.published_on == date(2025, 1, 15)

    # every listing of this layout carries metadata and a date
    assert all(listing.published_on is not None for listing in parsed.listings)
    assert sum(listing.authors_count is not None for listing in parsed.listings) == 40
    assert sum(listing.organization is not None for listing in parsed.listings) == 2
    assert sum(listing.upvotes is not None for listing in parsed.listings) == 12


def test_the_last_record_of_the_metadata_file_ends_without_a_newline():
    last = seed("004_ac28443d9d5bf3bd.txt").listings[-1]
    assert last.title == "A Controllable Examination for Long-Context Language Models"
    assert (last.authors_count, last.published_text, last.upvotes) == (7, "Jun 3", 2)


def test_truncated_last_record_loads_the_complete_ones_and_warns():
    parsed = parse_bytes(blocks_page("Paper One", ABSTRACT, "Paper Two", ABSTRACT, "Paper Three"))
    assert parsed.titles == ["Paper One", "Paper Two"]
    assert len(parsed.notes.messages) == 1
    assert "no abstract" in parsed.notes.messages[0] and "line 21" in parsed.notes.messages[0]


def test_title_without_abstract_in_a_metadata_page_is_skipped_and_the_rest_realign():
    page = blocks_page(
        "Paper One",
        ABSTRACT,
        "  • 3 authors\n·\nOct 6 2",
        "Lonely Title",
        "  • 2 authors\n·\nOct 5",
        "Paper Two",
        ABSTRACT,
        "  • 5 authors\n·\nJul 1, 2021",
    )
    parsed = parse_bytes(page)
    assert parsed.titles == ["Paper One", "Paper Two"]
    assert parsed.listings[1].authors_count == 5
    assert any("without an abstract" in message for message in parsed.notes.messages)


def test_header_lines_repeated_mid_file_are_not_papers():
    page = blocks_page("Paper One", ABSTRACT, "Daily Papers", "Sep 4", "Paper Two", ABSTRACT)
    parsed = parse_bytes(page)
    assert parsed.titles == ["Paper One", "Paper Two"]
    assert parsed.parser.page_date == date(2026, 9, 3)  # the first page date counts


def test_a_file_without_a_page_header_is_rejected_with_a_reason():
    with pytest.raises(UnrecognizedContent, match="not a listing page"):
        parse_bytes(b"Dear diary,\nToday I wrote a paper.\n")


def test_a_header_only_page_has_no_listings():
    parsed = parse_bytes(blocks_page())
    assert parsed.listings == [] and parsed.parser.has_content


def test_overlong_titles_are_skipped_with_a_warning():
    page = blocks_page("T" * (MAX_TITLE_CHARS + 1), ABSTRACT, "Paper Two", ABSTRACT)
    parsed = parse_bytes(page)
    assert parsed.titles == ["Paper Two"]
    assert "1,001 characters" in parsed.notes.messages[0]


def test_a_date_that_is_not_a_calendar_date_leaves_published_on_empty():
    parsed = parse_bytes(blocks_page("Paper", ABSTRACT, "  • 2 authors\n·\nFeb 30, 2024 7"))
    listing = parsed.listings[0]
    assert (listing.published_text, listing.published_on, listing.upvotes) == (
        "Feb 30, 2024",
        None,
        7,
    )
    assert "not a calendar date" in parsed.notes.messages[0]


def test_february_29_without_a_year_goes_back_to_a_leap_year():
    parsed = parse_bytes(
        blocks_page("Paper", ABSTRACT, "  • 2 authors\n·\nFeb 29", page_date="Mar 1")
    )
    assert parsed.parser.page_date == date(2026, 3, 1)
    assert parsed.listings[0].published_on == date(2024, 2, 29)


def test_special_characters_in_titles_are_data():
    titles = [
        "Quotes ' \" and back\\slashes",
        "Tabs\tinside and 100%s of {{ jinja }} {% raw %}",
        "Robert'); DROP TABLE raw.paper_listings;--",
    ]
    records = [part for title in titles for part in (title, ABSTRACT)]
    assert parse_bytes(blocks_page(*records)).titles == titles


@pytest.mark.parametrize("read_bytes", [1, 13, 64, 4096])
def test_records_read_in_many_small_pieces_parse_as_one(monkeypatch, read_bytes):
    # The decoder hands lines on in batches and the parser keeps a few lines
    # ahead across them: a record split between batches must not be lost.
    monkeypatch.setattr("orchestration.ingest.decode.READ_BYTES", read_bytes)
    records, expected = [], []
    for n in range(1, 41):
        if n % 3:  # an author count, and a date with upvotes
            records += [
                f"Paper {n}",
                f"Abstract {n}. " * 15,
                f"  • {n} authors\n·\nOct {n % 28 + 1} {n}",
            ]
            expected.append((f"Paper {n}", n, None, n))
        else:  # an organization, and a date without
            records += [f"Paper {n}", f"Abstract {n}. " * 15, f"Org {n}\n·\nJul 1, 2021"]
            expected.append((f"Paper {n}", None, f"Org {n}", None))
    parsed = parse_bytes(blocks_page(*records))
    got = [(x.title, x.authors_count, x.organization, x.upvotes) for x in parsed.listings]
    assert got == expected
    # the header takes 12 lines with its blanks; each record 8: title, abstract, 3 metadata, 3 blanks
    assert [x.line_number for x in parsed.listings] == [13 + 8 * k for k in range(40)]
    assert parsed.parser.layout is Layout.BLOCKS_WITH_METADATA and not parsed.notes


def test_warnings_are_listed_in_line_order():
    # The decoder warns about a batch of lines before the parser reaches them.
    overlong = "x" * (MAX_LINE_CHARS + 1)
    parsed = parse_bytes(
        blocks_page("·", "Paper", ABSTRACT, "Another", overlong, "Third", ABSTRACT)
    )
    lines = [int(message.split(":")[0].removeprefix("line ")) for message in parsed.notes.messages]
    assert len(lines) == 2 and lines == sorted(lines)
    assert parsed.titles == ["Paper", "Third"]


def test_a_count_out_of_range_keeps_its_line_a_metadata_line_and_the_records_in_step():
    page = blocks_page(
        "Paper One",
        ABSTRACT,
        "  • 3 authors\n·\nOct 6 2147483648",
        "Paper Two",
        ABSTRACT,
        f"  • {'9' * 5000} authors\n·\nOct 7, {'2' * 12} 5",
        "Paper Three",
        ABSTRACT,
        "  • 5 authors\n·\nJul 1, 2021 2147483647",
    )
    parsed = parse_bytes(page)
    assert parsed.titles == ["Paper One", "Paper Two", "Paper Three"]
    one, two, three = parsed.listings
    assert (one.authors_count, one.published_text, one.upvotes) == (3, "Oct 6", None)
    assert (two.authors_count, two.published_on, two.upvotes) == (None, None, 5)
    assert (three.published_on, three.upvotes) == (date(2021, 7, 1), 2_147_483_647)
    messages = "\n".join(parsed.notes.messages)
    assert "upvote count out of range" in messages
    assert "author count of 5,000 digits, out of range" in messages
    assert "not a calendar date" in messages


def test_counts_padded_with_thousands_of_zeros_read_as_their_value():
    # Python refuses to convert a string of more than 4,300 digits, leading zeros included.
    zeros = "0" * 5000
    parsed = parse_bytes(
        blocks_page(
            "Paper One",
            ABSTRACT,
            f"  • {zeros}4 authors\n·\nOct {zeros}6, {zeros}2021 {zeros}7",
            "Paper Two",
            ABSTRACT,
            f"  • {zeros} authors\n·\nOct 6 {zeros}",
        )
    )
    one, two = parsed.listings
    assert (one.authors_count, one.published_on, one.upvotes) == (4, date(2021, 10, 6), 7)
    assert (two.authors_count, two.upvotes) == (0, 0)
    assert not parsed.notes


def test_a_date_shaped_line_where_a_title_should_be_is_never_a_title():
    parsed = parse_bytes(
        blocks_page("Paper One", ABSTRACT, "Sep 123", "Oct 6 99999999999", "Paper Two", ABSTRACT)
    )
    assert parsed.titles == ["Paper One", "Paper Two"]


def test_a_metadata_page_with_a_record_out_of_step_says_so():
    # The abstract of Paper Two is missing: Paper Three's title takes its place.
    page = blocks_page(
        "Paper One",
        ABSTRACT,
        "  • 3 authors\n·\nOct 6 2",
        "Paper Two",
        "Paper Three",
        ABSTRACT,
        "  • 2 authors\n·\nOct 5",
        "Paper Four",
        ABSTRACT,
        "  • 5 authors\n·\nJul 1, 2021",
    )
    parsed = parse_bytes(page)
    assert parsed.titles[0] == "Paper One" and parsed.titles[-1] == "Paper Four"
    out_of_step = [m for m in parsed.notes.messages if "out of step" in m]
    assert out_of_step and out_of_step[0].startswith("line 21:")


def test_a_page_without_metadata_whose_records_shifted_says_so():
    page = blocks_page(
        "Paper One", ABSTRACT, "Paper Two", "Paper Three", ABSTRACT, "Paper Four", ABSTRACT
    )
    parsed = parse_bytes(page)
    assert any("out of step" in message for message in parsed.notes.messages)


def test_a_title_taken_for_an_organization_by_a_stray_separator_is_told():
    # The second title, a stray `·` after it and a stray line read as the first listing's
    # organization, separator and (no) date: the second listing's title is lost, so it is told.
    parsed = parse_bytes(
        blocks_page("Paper one", ABSTRACT, "Paper two", "·", "¸", ABSTRACT, "  • 4 authors")
    )
    assert parsed.titles == ["Paper one", "¸"]
    assert any("no date follows the '·'" in message for message in parsed.notes.messages)
    # a `·` before a date, as pages have it, says nothing
    parsed = parse_bytes(blocks_page("Paper one", ABSTRACT, "Org", "·", "Jul 1, 2021"))
    assert parsed.titles == ["Paper one"] and not parsed.notes

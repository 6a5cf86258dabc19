"""Properties of decoding and parsing over arbitrary input (hypothesis).

Together the properties below draw 10,000 examples a run (issue 7): the parser
never raises but to reject a file with a reason, and never makes a listing
out of page-header lines.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orchestration.ingest.dates import is_page_date
from orchestration.ingest.decode import UnrecognizedContent
from orchestration.ingest.parse import HEADER_LINES
from parsing import parse_bytes

HEADERS = sorted(HEADER_LINES) + ["Sep 3", "Dec 11", "Feb 29", "SubscribeDaily Papers"]
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


@settings(max_examples=2000, deadline=None)
@given(lines=st.lists(st.sampled_from(HEADERS + [""]), max_size=60), newline=NEWLINES)
def test_header_lines_alone_never_make_a_listing(lines, newline):
    parsed = accepted(newline.join(lines).encode())
    assert parsed is None or parsed.listings == []


@settings(max_examples=2000, deadline=None)
@given(lines=st.lists(st.one_of(st.sampled_from(HEADERS), st.text(min_size=1, max_size=80)), max_size=40))
def test_no_listing_has_a_header_line_for_title_or_abstract(lines):
    parsed = accepted("\n".join(["new", *lines]).encode("utf-8", errors="surrogatepass"))
    for listing in parsed.listings if parsed else []:
        for text in (listing.title, listing.abstract):
            assert text not in HEADER_LINES and not is_page_date(text)

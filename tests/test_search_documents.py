"""Search documents laid out from the server's parse of each piece (search_documents.py,
_search_documents.pyx) against the server's parse of the whole text, `=` on tsvectors."""

from __future__ import annotations

import psycopg
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from orchestration import search_documents
from orchestration.features import extract_pending
from orchestration.ingest.batch import ingest_paths
from orchestration.search_documents import COPY_SEARCH_DOCUMENTS, DocumentRows

from conftest import ANY_TEXT

# What the parser tells apart, one fragment at a time: words, stop words, hyphenated words of
# each kind, numbers of every form, versions, URLs, hosts, e-mail addresses, paths, entities,
# apostrophes, letters beyond ASCII of each UTF-8 width, white space a space is not (tab,
# line break, no-break and em spaces, zero width), punctuation, and a piece's own start: `~`
# and `-` read differently at a text's start than after a space.
FRAGMENTS = st.sampled_from(
    [
        "the", "a", "of", "cat", "Cats'", "don't", "O'Neil", "l'été", "well-known", "x-1",
        "1-x", "co-operation-based", "GPT-4o", "AI-based", "3D", "1st", "3.14", "-2.5", "+7",
        "1e10", "-1.5e-3", ".5", "5.", "1,000", "10,000.5", "1.2.3", "v2.0.1", "50%", "$5",
        "http://example.com/a/b?c=d", "https://x.org", "ftp://h.net/p", "www.foo.bar",
        "foo@bar.com", "a.b@c.d.e", "/usr/local/bin", "~/x.txt", "C:\\dir\\f.txt", "~50k", "~",
        "&amp;", "&#169;", "&foo", "café", "naïve", "Ελληνικά", "日本語", "Москва", "ℝ", "½",
        "😀", "a😀b", "\u0301e", "\t", "\n", "\u00a0", "\u2003", "\u200b", ",", ".", "...",
        "(a)", "[1]", "—", "-", "--", "foo-", "-foo", "'", "\"q\"", "e.g.", "U.S.A.", "#tag",
        "@user", "a/b", "x_y", "__init__",
    ]
)  # fmt: skip
SEPARATORS = st.sampled_from([" ", " ", " ", "", "  ", "\t", "-", "."])
TEXT = st.lists(st.tuples(FRAGMENTS, SEPARATORS), max_size=25).map(
    lambda parts: "".join(fragment + separator for fragment, separator in parts)
)
LISTINGS = st.lists(st.tuples(TEXT, TEXT), min_size=1, max_size=40)
SERVER_DOCUMENT = "setweight(to_tsvector('english', title), 'A') || setweight(to_tsvector('english', abstract), 'B')"


def laid_out_and_server(conn: psycopg.Connection, listings: list[tuple[str, str]]) -> list[tuple]:
    """(position, laid out, the server's) of each listing laid out; None where left to the server."""
    conn.execute(
        "create temp table if not exists texts (position integer, title text, abstract text);"
        "create temp table if not exists documents "
        "(like features.listing_search_documents including defaults);"
        "truncate texts, documents"
    )
    with conn.cursor().copy("copy texts from stdin") as copy:
        for position, (title, abstract) in enumerate(listings):
            copy.write_row((position, title, abstract))
    with DocumentRows.for_batch(conn) as rows:
        assert rows is not None
        for position, (title, abstract) in enumerate(listings):
            rows.add(1, position, title, abstract)
        rows.settle()
        rows.spool.write(search_documents.BINARY_TRAILER)
        rows.spool.seek(0)
        into_documents = COPY_SEARCH_DOCUMENTS.replace(
            "features.listing_search_documents", "documents"
        )
        with conn.cursor().copy(into_documents) as copy:
            copy.write(rows.spool.read())
    return conn.execute(
        f"""
        select texts.position, documents.search_document::text, ({SERVER_DOCUMENT})::text,
            documents.search_document = {SERVER_DOCUMENT}
        from texts left join documents using (position)
        order by texts.position
        """
    ).fetchall()


def test_the_layout_is_compiled_where_the_suite_runs():
    # make builds it before the suite; were it missing, the server would make every document
    # and the tests below would compare it with itself
    assert search_documents._compiled is not None, "run `make bootstrap`: it is not compiled"


@pytest.fixture
def autocommit(db_url):
    with psycopg.connect(db_url, autocommit=True) as conn:
        yield conn


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(LISTINGS)
@example([("~50k cats", "~50k cats ~50k"), ("", ""), ("   ", " the  of "), ("of the", "a cat")])
@example([(" -5 well-known", "-5 x-1 http://x.org/a b foo@bar.com"), ("The cat", "the dog of")])
def test_documents_laid_out_from_pieces_are_the_servers(autocommit, listings):
    compared = laid_out_and_server(autocommit, listings)
    assert [laid_out for _, laid_out, _, _ in compared] == [server for _, _, server, _ in compared]
    assert all(same for *_, same in compared)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.tuples(ANY_TEXT, ANY_TEXT), min_size=1, max_size=20))
def test_any_text_is_laid_out_as_the_server_parses_it_or_left_to_it(autocommit, listings):
    for _, laid_out, server, same in laid_out_and_server(autocommit, listings):
        assert laid_out is None or (laid_out == server and same)


@pytest.mark.parametrize(
    ("title", "abstract", "why"),
    [
        ("a <b>tag</b>", "words", "a tag may span spaces"),
        ("title", 'an <a href="x y">anchor</a>', "a tag may span spaces"),
        ("title", "x" * 1001, "a piece longer than any laid out"),
        ("title", " ".join(["cat"] * 256), "a lexeme at more positions than to_tsvector keeps"),
        ("title", " ".join(f"w{n}" for n in range(16384)), "positions past tsvector's highest"),
    ],
)
def test_texts_the_layout_cannot_be_sure_of_are_left_to_the_server(
    autocommit, title, abstract, why
):
    ((_, laid_out, _, _),) = laid_out_and_server(autocommit, [(title, abstract)])
    assert laid_out is None, why


def test_texts_at_the_limits_are_laid_out_exactly(autocommit):
    listings = [
        ("cat", " ".join(["cat"] * 254)),
        ("x" * 1000, "y" * 999 + " z"),
        ("title", " ".join(f"w{n}" for n in range(16000))),
    ]
    compared = laid_out_and_server(autocommit, listings)
    assert all(laid_out is not None and same for _, laid_out, _, same in compared)


def test_a_cache_forgotten_past_its_bound_lays_out_the_same(autocommit, monkeypatch):
    known = [("Mixture of Experts", "A mixture of experts, well-known ~50k."), ("x", "y z")]
    laid_out_and_server(autocommit, known)
    monkeypatch.setattr(search_documents, "MAX_PIECES", 0)
    # the known listings are laid out at once; the new one waits, and the cache is forgotten
    # before its pieces are learned
    compared = laid_out_and_server(autocommit, [*known, ("Zebra", "quokka")])
    assert search_documents._cache.pieces == 2  # "Zebra" and "quokka" alone
    assert all(laid_out is not None and same for _, laid_out, _, same in compared)


def test_the_features_step_stores_every_document_as_the_server_makes_it(
    db_url, conn, inbox, monkeypatch
):
    # texts the layout leaves to the server beside those it makes
    page = inbox / "2026-01-05.txt"
    page.write_text(
        "new\n\nDaily Papers\n\nSep 3\n\n"
        + "".join(
            f"Paper {n}: a {'<b>bold</b>' if n % 2 else 'plain'} title\n\n"
            f"{'An abstract that stays long enough. ' * 6}"
            f"{'x' * 1200 if n % 3 == 0 else 'short'} and ~{n}k words.\n\n"
            for n in range(12)
        ),
        encoding="utf-8",
    )
    # the pieces asked for several times a batch, and the cache forgotten in between
    monkeypatch.setattr(search_documents, "SETTLE_LISTINGS", 5)
    monkeypatch.setattr(search_documents, "MAX_PIECES", 200)
    laid_out: list[int] = []
    copy_into = DocumentRows.copy_into
    monkeypatch.setattr(
        DocumentRows, "copy_into", lambda rows, writer: laid_out.append(copy_into(rows, writer))
    )
    ingest_paths(db_url, [inbox], settle_seconds=0)
    extract_pending(db_url)
    stored = conn.execute(
        f"""
        select count(*), count(*) filter (where documents.search_document = {SERVER_DOCUMENT})
        from raw.paper_listings as listing
        left join features.listing_search_documents as documents using (file_id, position)
        """
    ).fetchone()
    listings, layable = conn.execute(
        "select count(*), count(*) filter (where strpos(title || abstract, '<') = 0"
        " and strpos(abstract, repeat('x', 1001)) = 0) from raw.paper_listings"
    ).fetchone()
    assert listings > 12 and stored == (listings, listings)
    # the sample pages' listings laid out here, and the new page's without a tag or a long
    # piece (papers 2, 4, 8 and 10); the others by the server
    assert sum(laid_out) == layable == listings - 8


def test_a_configuration_not_the_stock_one_leaves_every_document_to_the_server(autocommit):
    # numbers no longer take positions in `english`: counting tokens by `simple` would be wrong
    autocommit.execute(
        "create schema custom_search;"
        "create text search configuration custom_search.english (copy = pg_catalog.english);"
        "alter text search configuration custom_search.english drop mapping for int, uint;"
        "set search_path = custom_search, pg_catalog"
    )
    with DocumentRows.for_batch(autocommit) as rows:
        assert rows is None
    autocommit.execute("set search_path = pg_catalog")
    with DocumentRows.for_batch(autocommit) as rows:
        assert rows is not None


def test_where_the_layout_is_not_built_the_server_makes_every_document(
    db_url, conn, inbox, monkeypatch
):
    monkeypatch.setattr(search_documents, "_compiled", None)
    ingest_paths(db_url, [inbox], settle_seconds=0)
    extract_pending(db_url)
    stored = conn.execute(
        f"""
        select count(*), count(documents.search_document),
            count(*) filter (where documents.search_document = {SERVER_DOCUMENT})
        from raw.paper_listings as listing
        left join features.listing_search_documents as documents using (file_id, position)
        """
    ).fetchone()
    assert stored[0] > 0 and stored == (stored[0],) * 3

"""Connection strings in either libpq form become one URL the ecosystem reads (warehouse.as_url)."""

from __future__ import annotations

import psycopg
from hypothesis import example, given, settings
from hypothesis import strategies as st

from orchestration.warehouse import as_url, redact

words = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=20
)


@settings(max_examples=300, deadline=None)
@given(
    user=words,
    password=st.none() | words,
    dbname=words,
    host=st.sampled_from(["127.0.0.1", "db.example.org", "/var/run/postgresql", "::1"]),
    port=st.none() | st.integers(1, 65535),
    sslmode=st.none() | st.sampled_from(["disable", "require"]),
)
@example(user="0", password=None, dbname="://", host="127.0.0.1", port=None, sslmode=None)
def test_a_key_value_string_and_its_url_name_the_same_connection(
    user, password, dbname, host, port, sslmode
):
    params = {"user": user, "password": password, "dbname": dbname, "host": host, "port": port}
    params["sslmode"] = sslmode
    conninfo = psycopg.conninfo.make_conninfo(
        "", **{key: value for key, value in params.items() if value is not None}
    )
    url = as_url(conninfo)
    assert url.startswith("postgresql://")
    assert psycopg.conninfo.conninfo_to_dict(url) == psycopg.conninfo.conninfo_to_dict(conninfo)
    # what is printed names the same connection, without its password
    shown = psycopg.conninfo.conninfo_to_dict(redact(conninfo))
    assert "password" not in shown
    expected = psycopg.conninfo.conninfo_to_dict(conninfo)
    expected.pop("password", None)
    assert shown == expected


@settings(max_examples=100, deadline=None)
@given(user=words, dbname=words, scheme=st.sampled_from(["postgresql://", "postgres://"]))
def test_a_url_in_either_scheme_stays_the_same_connection(user, dbname, scheme):
    url = as_url(
        psycopg.conninfo.make_conninfo("", user=user, dbname=dbname, host="db.example.org")
    )
    given_url = scheme + url.removeprefix("postgresql://")
    assert as_url(given_url).startswith("postgresql://")
    assert psycopg.conninfo.conninfo_to_dict(as_url(given_url)) == (
        psycopg.conninfo.conninfo_to_dict(given_url)
    )

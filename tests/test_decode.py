"""Decoding: encodings, line ends, NUL bytes and binary content, through the parser."""

from __future__ import annotations

import codecs
import io
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from orchestration.ingest.decode import MAX_LINE_CHARS, DecodedText, UnrecognizedContent, _batches
from orchestration.ingest.notes import Notes

from parsing import parse_bytes

TITLE = "Fréchet Means for Ångström-Scale Naïve Models"
ABSTRACT = "An abstract that mentions café, Zürich and Œuvre at some length. " * 10


def page(title: str = TITLE, newline: str = "\n") -> str:
    lines = [
        "new",
        "",
        "Daily Papers",
        "",
        "Sep 3",
        "",
        title,
        "",
        ABSTRACT,
        "",
        "Second Paper",
        "",
        ABSTRACT,
    ]
    return newline.join(lines)


@pytest.mark.parametrize(
    "encoded,encoding",
    [
        (page().encode("utf-8"), "utf-8"),
        (codecs.BOM_UTF8 + page().encode("utf-8"), "utf-8-sig"),
        (page().encode("utf-16"), "utf-16"),  # Python writes a BOM
        (codecs.BOM_UTF16_BE + page().encode("utf-16-be"), "utf-16"),
        (page().encode("cp1252"), "cp1252"),
    ],
    ids=["utf-8", "utf-8-bom", "utf-16-le-bom", "utf-16-be-bom", "cp1252"],
)
def test_accented_titles_survive_every_supported_encoding(encoded, encoding):
    parsed = parse_bytes(encoded)
    assert parsed.encoding == encoding
    assert parsed.titles == [TITLE, "Second Paper"]
    assert parsed.listings[0].abstract == ABSTRACT.strip()


@pytest.mark.parametrize("newline", ["\r\n", "\r", "\n"], ids=["crlf", "cr", "lf"])
def test_every_line_end_convention(newline):
    parsed = parse_bytes(page(newline=newline).encode())
    assert parsed.titles == [TITLE, "Second Paper"]
    assert parsed.listings[1].line_number == 11


def test_a_file_mixing_utf8_and_cp1252_keeps_both():
    data = page().encode("utf-8").replace(b"Second Paper", "Deuxième Papier".encode("cp1252"))
    parsed = parse_bytes(data)
    assert parsed.titles == [TITLE, "Deuxième Papier"]
    assert parsed.encoding == "utf-8+cp1252"
    assert "Windows-1252" in parsed.notes.messages[0]


def test_nul_bytes_are_removed_with_a_warning():
    data = page().encode().replace(b"Second Paper", b"Second\x00 Paper\x00")
    parsed = parse_bytes(data)
    assert parsed.titles[1] == "Second Paper"
    assert parsed.notes.messages == [
        "removed 2 NUL character(s), which PostgreSQL text cannot hold"
    ]


@pytest.mark.parametrize(
    "data,what",
    [
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj", "PDF"),
        (b"\x1f\x8b\x08\x00" + bytes(200), "gzip"),
        (b"PK\x03\x04" + bytes(100), "ZIP"),
        (b"\x89PNG\r\n\x1a\n" + bytes(100), "PNG"),
    ],
)
def test_known_binary_formats_are_named_in_the_rejection(data, what):
    with pytest.raises(UnrecognizedContent, match=what):
        parse_bytes(data)


def test_random_bytes_are_rejected_as_binary():
    noise = random.Random(7).randbytes(10_000)
    with pytest.raises(UnrecognizedContent, match="binary content"):
        parse_bytes(noise)


def test_an_overlong_line_is_skipped_without_losing_the_record_alignment():
    huge_abstract = "x" * (MAX_LINE_CHARS + 10)
    data = page().replace(ABSTRACT, huge_abstract, 1).encode()
    parsed = parse_bytes(data)
    assert parsed.titles == ["Second Paper"]
    assert f"{MAX_LINE_CHARS + 10:,} characters" in parsed.notes.messages[0]


def reference_lines(data: bytes) -> tuple[list[str], str]:
    """The decoder's promise for UTF-8 input, line by line and slowly: every line end (CRLF, CR,
    LF) ends a line; a line that is valid UTF-8 reads as such, any other as cp1252; NULs go.
    With the lines, the encoding the file is then said to be in."""
    lines = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n")
    if lines[-1] == b"":
        lines.pop()  # a final line end opens no line
    decoded = []
    utf8_seen = cp1252_seen = False
    for line in lines:
        try:
            text = line.decode("utf-8")
            utf8_seen = utf8_seen or not line.isascii()
        except UnicodeDecodeError:
            text = line.decode("cp1252", "replace")
            cp1252_seen = True
        decoded.append(text.replace("\x00", ""))
    if not cp1252_seen:
        return decoded, "utf-8"
    return decoded, "utf-8+cp1252" if utf8_seen else "cp1252"


# Bytes that make the chunk decoder's cases: multi-byte characters and line ends to be cut
# between chunks, bytes that are not UTF-8, NULs.
tricky_bytes = st.lists(
    st.sampled_from(
        [
            b"a",
            b"Z ",
            b"\r",
            b"\n",
            b"\r\n",
            "é".encode(),
            "•".encode(),
            "😀".encode(),
            b"\xe9",
            b"\x81",
            b"\xe2\x80",
            b"\x00",
            b"\xef\xbb\xbf",
        ]
    ),
    max_size=80,
).map(b"".join)


@settings(max_examples=1500, deadline=None)
@given(data=tricky_bytes, read_bytes=st.integers(min_value=1, max_value=64))
def test_lines_decode_alike_however_the_bytes_are_cut_into_chunks(data, read_bytes):
    # Straight to the chunk decoder: sniffing would reject the many NULs as binary content.
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("orchestration.ingest.decode.READ_BYTES", read_bytes)
        decoded = DecodedText("utf-8")
        batches = _batches(io.BytesIO(data), decoded, Notes())
        got = [line for batch in batches for line in batch.lines]
    assert (got, decoded.encoding) == reference_lines(data)

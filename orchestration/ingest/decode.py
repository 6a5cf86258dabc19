"""Bytes to numbered text lines: refuse binary content, pick the encoding, normalise line ends.

Streams: memory stays bounded by MAX_LINE_CHARS whatever the file's size.
"""

from __future__ import annotations

import codecs
import contextlib
import io
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from orchestration.ingest.notes import Notes

SNIFF_BYTES = 64 * 1024
# Abstracts run to a few thousand characters; a longer line is not a listing
# line, and reading it whole would let one bad file take all the memory.
MAX_LINE_CHARS = 100_000
# Share of control characters in the first SNIFF_BYTES above which the content
# is taken to be binary. Text has none or a handful; random bytes have ~11 %.
MAX_CONTROL_SHARE = 0.02

# Signatures of the binary formats most likely to land in an inbox by mistake,
# so that the reason for a rejection can name what the file really is.
MAGIC_NUMBERS: tuple[tuple[bytes, str], ...] = (
    (b"%PDF-", "a PDF document"),
    (b"PK\x03\x04", "a ZIP archive (or an Office document)"),
    (b"\x1f\x8b", "a gzip-compressed file"),
    (b"BZh", "a bzip2-compressed file"),
    (b"\xfd7zXZ\x00", "an xz-compressed file"),
    (b"(\xb5/\xfd", "a zstd-compressed file"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"SQLite format 3\x00", "an SQLite database"),
    (b"\x7fELF", "an executable program"),
    (b"PAR1", "a Parquet file"),
)

# Byte-order marks, longest first: the UTF-32 LE mark begins with the UTF-16 LE one.
BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)

_CONTROL_BYTES = frozenset(range(0x20)) - {0x09, 0x0A, 0x0C, 0x0D} | {0x7F}


class UnrecognizedContent(ValueError):
    """The file is not a listing file; str() is the reason, fit to show a person."""


@dataclass
class DecodedText:
    """A file's lines; `encoding` is final once `lines` has been consumed.

    `encoding` names what the file was read as: utf-8, utf-8-sig, utf-16,
    utf-32, cp1252, or utf-8+cp1252 for a file that mixes the two.
    """

    encoding: str
    lines: Iterator[tuple[int, str | None]] = iter(())


def sniff_encoding(head: bytes) -> str:
    """The encoding to read a file with, from its first bytes; raise UnrecognizedContent for binary data."""
    for bom, encoding in BOMS:
        if head.startswith(bom):
            return encoding
    for magic, what in MAGIC_NUMBERS:
        if head.startswith(magic):
            raise UnrecognizedContent(f"binary content: this is {what}, not a text listing file")
    if head:
        nuls = head.count(0)
        controls = sum(1 for byte in head if byte in _CONTROL_BYTES)
        if nuls / len(head) > MAX_CONTROL_SHARE:
            raise UnrecognizedContent(
                f"binary content: {nuls / len(head):.0%} of the first {len(head):,} bytes are NUL "
                "bytes (binary data, or UTF-16 text without a byte-order mark)"
            )
        if controls / len(head) > MAX_CONTROL_SHARE:
            raise UnrecognizedContent(
                f"binary content: {controls / len(head):.0%} of the first {len(head):,} bytes are "
                "control characters; a listing file is plain text"
            )
    return "utf-8"


def decode_lines(stream: BinaryIO, notes: Notes) -> DecodedText:
    """Read `stream` (seekable, at its start) as text lines numbered from 1.

    UTF-8 is the default; a BOM selects UTF-8-sig, UTF-16 or UTF-32; a line
    that is not valid UTF-8 is read as Windows-1252 (cp1252), so a file mixing
    the two keeps every character. CRLF, CR and LF all end a line. NUL
    characters are removed (PostgreSQL text cannot hold them). A line longer
    than MAX_LINE_CHARS is yielded as None, so that the parser can skip its
    record without losing its place.
    """
    head = stream.read(SNIFF_BYTES)
    stream.seek(0)
    decoded = DecodedText(encoding=sniff_encoding(head))
    decoded.lines = _lines(stream, decoded, notes)
    return decoded


def _lines(stream: BinaryIO, decoded: DecodedText, notes: Notes) -> Iterator[tuple[int, str | None]]:
    # UTF-8 with surrogateescape keeps undecodable bytes as lone surrogates,
    # so each bad line can be re-read as cp1252 on its own (below).
    utf8 = decoded.encoding.startswith("utf-8")
    errors = "surrogateescape" if utf8 else "replace"
    # newline=None: universal newlines, so \r\n, \r and \n all end a line.
    text = io.TextIOWrapper(stream, encoding=decoded.encoding, errors=errors, newline=None)  # type: ignore[arg-type]
    cp1252_lines = utf8_lines = nul_count = 0
    number = 0
    try:
        while True:
            line = text.readline(MAX_LINE_CHARS)
            if not line:
                break
            number += 1
            if len(line) == MAX_LINE_CHARS and not line.endswith("\n"):
                length = len(line) + _skip_rest_of_line(text)
                notes.warn(
                    f"line {number}: {length:,} characters long, more than a listing line may "
                    f"have ({MAX_LINE_CHARS:,}); its record was skipped"
                )
                yield number, None
                continue
            line = line.rstrip("\n")
            if utf8 and not line.isascii():
                try:
                    line.encode("utf-8")
                    utf8_lines += 1
                except UnicodeEncodeError:
                    line = line.encode("utf-8", "surrogateescape").decode("cp1252", "replace")
                    cp1252_lines += 1
            if "\x00" in line:
                nul_count += line.count("\x00")
                line = line.replace("\x00", "")
            yield number, line
    finally:
        # Leave the caller's stream open (the caller owns it), unless it is closed already.
        with contextlib.suppress(ValueError):
            text.detach()
    if cp1252_lines:
        decoded.encoding = "utf-8+cp1252" if utf8_lines else "cp1252"
        notes.warn(
            f"{cp1252_lines:,} line(s) are not valid UTF-8 and were read as Windows-1252 (cp1252)"
        )
    if nul_count:
        notes.warn(f"removed {nul_count:,} NUL character(s), which PostgreSQL text cannot hold")


def _skip_rest_of_line(text: io.TextIOWrapper) -> int:
    skipped = 0
    while True:
        chunk = text.readline(MAX_LINE_CHARS)
        skipped += len(chunk)
        if not chunk or chunk.endswith("\n"):
            return skipped - (1 if chunk.endswith("\n") else 0)

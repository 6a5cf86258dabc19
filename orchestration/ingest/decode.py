"""Bytes to numbered text lines: refuse binary content, pick the encoding, normalise line ends.

Streams: memory stays bounded by MAX_LINE_CHARS whatever the file's size.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import BinaryIO, NamedTuple

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

_CONTROL_BYTES = bytes(sorted(frozenset(range(0x20)) - {0x09, 0x0A, 0x0C, 0x0D} | {0x7F}))


class UnrecognizedContent(ValueError):
    """The file is not a listing file; str() is the reason, fit to show a person."""


class LineBatch(NamedTuple):
    """Consecutive lines of a file: the number of the first (from 1), and their texts.

    A text is None for a line too long to read (the decoder has warned).
    """

    first_number: int
    lines: list[str | None]


@dataclass
class DecodedText:
    """A file's lines, in batches; `encoding` is final once `batches` has been consumed.

    `encoding` names what the file was read as: utf-8, utf-8-sig, utf-16,
    utf-32, cp1252, or utf-8+cp1252 for a file that mixes the two.
    """

    encoding: str
    batches: Iterator[LineBatch] = field(default_factory=lambda: iter(()))


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
        # bytes.translate deletes in C: a Python loop here cost more than parsing the file
        controls = len(head) - len(head.translate(None, _CONTROL_BYTES))
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
    """Read `stream` (seekable, at its start) as batches of text lines.

    UTF-8 is the default; a BOM selects UTF-8-sig, UTF-16 or UTF-32; a line
    that is not valid UTF-8 is read as Windows-1252 (cp1252), so a file mixing
    the two keeps every character. CRLF, CR and LF all end a line. NUL
    characters are removed (PostgreSQL text cannot hold them). A line longer
    than MAX_LINE_CHARS is given as None, so that the parser can skip its
    record without losing its place.
    """
    head = stream.read(SNIFF_BYTES)
    stream.seek(0)
    decoded = DecodedText(encoding=sniff_encoding(head))
    decoded.batches = _batches(stream, decoded, notes)
    return decoded


# Bytes read and decoded at a time, about a thousand lines. Lines are cut out
# of these chunks and handed on in batches, in C (bytes.decode, str.split,
# list slices) rather than one by one: per-line Python work would be most of
# the cost of ingest.
READ_BYTES = 256 * 1024


def _batches(stream: BinaryIO, decoded: DecodedText, notes: Notes) -> Iterator[LineBatch]:
    chunks = _ChunkDecoder(decoded.encoding)
    cleaner = _LineCleaner(chunks.utf8)
    number = 0  # lines handed on so far
    carry = ""  # the start of a line that ends in a later chunk
    overlong = 0  # inside a line too long to keep: its characters so far

    def too_long(line_number: int, length: int) -> None:
        notes.warn(
            f"{length:,} characters long, more than a listing line may have ({MAX_LINE_CHARS:,}); "
            "its record was skipped",
            line=line_number,
        )

    while True:
        raw = stream.read(READ_BYTES)
        chunk, strict = chunks.decode(raw, final=not raw)
        pieces = chunk.split("\n")
        rest = pieces.pop()  # the start of a line, or "" after a final newline
        if pieces:
            lines: list[str | None] = list(pieces)
            # the first line began in an earlier chunk, which may not have been clean
            head_length = (overlong or len(carry)) + len(pieces[0])
            if overlong or head_length >= MAX_LINE_CHARS:
                too_long(number + 1, head_length)
                lines[0] = None
            else:
                lines[0] = cleaner.clean(carry + pieces[0])
            if max(map(len, pieces)) >= MAX_LINE_CHARS:
                for offset in range(1, len(pieces)):
                    if len(pieces[offset]) >= MAX_LINE_CHARS:
                        too_long(number + 1 + offset, len(pieces[offset]))
                        lines[offset] = None
            if not cleaner.is_clean(chunk, strict):
                lines[1:] = [
                    cleaner.clean(line) if line is not None else None for line in lines[1:]
                ]
            elif chunks.utf8 and not cleaner.utf8_seen and not chunk.isascii():
                # valid UTF-8 beyond ASCII, on a line that ends in this chunk (the first one
                # was checked whole above; the last one goes on, and may turn out not to be)
                cleaner.utf8_seen = any(not piece.isascii() for piece in pieces[1:])
            yield LineBatch(number + 1, lines)
            number += len(lines)
            carry, overlong = "", 0
        if overlong:
            overlong += len(rest)
        elif len(carry) + len(rest) >= MAX_LINE_CHARS:
            overlong, carry = len(carry) + len(rest), ""  # bounded memory: drop it
        else:
            carry += rest
        if not raw:
            break
    if overlong:
        too_long(number + 1, overlong)
        yield LineBatch(number + 1, [None])
    elif carry:
        yield LineBatch(number + 1, [cleaner.clean(carry)])
    if cleaner.cp1252_lines:
        decoded.encoding = "utf-8+cp1252" if cleaner.utf8_seen else "cp1252"
        notes.warn(
            f"{cleaner.cp1252_lines:,} line(s) are not valid UTF-8 and were read as Windows-1252 (cp1252)"
        )
    if cleaner.nul_count:
        notes.warn(
            f"removed {cleaner.nul_count:,} NUL character(s), which PostgreSQL text cannot hold"
        )


class _ChunkDecoder:
    """Bytes to text a chunk at a time, with every line end (CRLF, CR, LF) made LF.

    UTF-8 is decoded strictly first: a chunk that decodes needs no further
    check, which is the common case and costs one pass. A chunk that does not
    is decoded again with surrogateescape, which keeps each undecodable byte as
    a lone surrogate, so that its bad lines can be re-read as cp1252 one by one
    (_LineCleaner). Other encodings replace what they cannot decode.
    """

    def __init__(self, encoding: str) -> None:
        self.encoding = encoding
        self.utf8 = encoding.startswith("utf-8")
        self._decoder = codecs.getincrementaldecoder(encoding)("strict" if self.utf8 else "replace")
        self._cr_pending = False  # the last chunk ended in CR: its LF may open this one

    def decode(self, raw: bytes, *, final: bool) -> tuple[str, bool]:
        """The text of `raw`, and whether it decoded strictly (no undecodable byte in it)."""
        state = self._decoder.getstate()
        try:
            text, strict = self._decoder.decode(raw, final), True
        except UnicodeDecodeError:
            lenient = codecs.getincrementaldecoder(self.encoding)("surrogateescape")
            lenient.setstate(state)
            text, strict = lenient.decode(raw, final), False
            self._decoder.setstate(lenient.getstate())
        if self._cr_pending:
            text = "\r" + text
        self._cr_pending = not final and text.endswith("\r")
        if self._cr_pending:
            text = text[:-1]
        if "\r" in text:
            text = text.replace("\r\n", "\n").replace("\r", "\n")
        return text, strict


class _LineCleaner:
    """Undecodable lines re-read as cp1252, NULs removed, with counts for the warnings."""

    def __init__(self, utf8: bool) -> None:
        self.utf8 = utf8
        self.utf8_seen = False  # a non-ASCII line that is valid UTF-8
        self.cp1252_lines = 0
        self.nul_count = 0

    def is_clean(self, chunk: str, strict: bool) -> bool:
        """Whether every line of `chunk`, decoded `strict`ly or not, is fine as it is (checked in
        C, once per chunk)."""
        return strict and "\x00" not in chunk

    def clean(self, line: str) -> str:
        if self.utf8 and not line.isascii():
            try:
                line.encode("utf-8")
                self.utf8_seen = True
            except UnicodeEncodeError:
                line = line.encode("utf-8", "surrogateescape").decode("cp1252", "replace")
                self.cp1252_lines += 1
        if "\x00" in line:
            self.nul_count += line.count("\x00")
            line = line.replace("\x00", "")
        return line

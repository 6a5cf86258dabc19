"""The features step's search documents, laid out from what the server said of each piece.

A listing's search document is
`setweight(to_tsvector('english', title), 'A') || setweight(to_tsvector('english', abstract), 'B')`,
and PostgreSQL's parser is most of its cost: about a tenth of a microsecond a character, on
every listing. Its default parser never makes a token across a space, but for XML tags, so a
text parses as the sum of its pieces, the runs of characters between ASCII spaces: each
piece's tokens, lexemes and positions are what the server gives for the piece alone, with a
space before it where one stands before it in the text, and one after where one follows (a
piece's first character parses differently at the very start of a text). A listing's document
is then its pieces' lexemes, their positions shifted by the tokens before them, and the
abstract's after the title's highest, as `||` places them. Each piece is asked of the server
once a process (PieceCache, compiled); most of an abstract's pieces are words seen before.

What the server still makes, from the whole text, as before: a text with a `<` (a tag may span
spaces), a piece over 1,000 bytes, a document near tsvector's limits (positions past
16,383, or a lexeme at more than 255 of them); every document where the compiled module is not
built; every one where `english` or `simple` is not the stock configuration (their parser,
the dictionaries their token types go to), since another dictionary might read several tokens
as one, or keep no lexeme of one.
Property tests hold the documents equal to the server's, `=` on tsvectors, on hostile texts.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO

import psycopg

from orchestration.compiled import SEARCH_DOCUMENTS, load

_compiled = load(SEARCH_DOCUMENTS)

# Whether `english` and `simple` are the stock configurations: the default parser; `english`'s
# token types each to english_stem or simple; `simple`'s the same types, each to the simple
# dictionary without options (no stop words: every token keeps its lexeme).
STOCK_CONFIGURATIONS = """
select
    (select array_agg(distinct maptokentype order by maptokentype)
     from pg_ts_config_map where mapcfg = 'english'::regconfig)
    = (select array_agg(distinct maptokentype order by maptokentype)
       from pg_ts_config_map where mapcfg = 'simple'::regconfig)
    and (select bool_and(mapdict::regdictionary::text in ('english_stem', 'simple'))
         from pg_ts_config_map where mapcfg = 'english'::regconfig)
    and (select bool_and(mapdict = 'simple'::regdictionary)
         from pg_ts_config_map where mapcfg = 'simple'::regconfig)
    and (select dictinitoption is null from pg_ts_dict where oid = 'simple'::regdictionary)
    and (select bool_and(parser.prsname = 'default')
         from pg_ts_config as config
         inner join pg_ts_parser as parser on parser.oid = config.cfgparser
         where config.oid in ('english'::regconfig, 'simple'::regconfig))
"""
# Each piece's parse by both configurations in tsvector's binary form, piece after piece, in
# one value (PieceCache.learn reads it): a row a piece would cost the client more than the
# parse. The pieces come as one text, each after the digit that marks the spaces beside it
# (1 before, 2 after, 3 both), joined by spaces, which no piece holds.
LEARN_PIECES = """
select string_agg(
    tsvectorsend(to_tsvector('english', piece.text))
    || tsvectorsend(to_tsvector('simple', piece.text)),
    ''::bytea order by marked.number
)
from unnest(string_to_array(%(pieces)s, ' ')) with ordinality as marked (piece, number)
cross join lateral (
    select
        case when left(marked.piece, 1) in ('1', '3') then ' ' else '' end
        || substr(marked.piece, 2)
        || case when left(marked.piece, 1) in ('2', '3') then ' ' else '' end
) as piece (text)
"""
COPY_SEARCH_DOCUMENTS = """
copy features.listing_search_documents (file_id, position, search_document)
from stdin (format binary)
"""
# PostgreSQL's binary COPY: the signature, flags and header extension length; -1 ends the rows
BINARY_SIGNATURE = b"PGCOPY\n\xff\r\n\x00" + b"\x00\x00\x00\x00" + b"\x00\x00\x00\x00"
BINARY_TRAILER = b"\xff\xff"
# A process's cache is forgotten past these, before it learns more: about 100 MB at most.
MAX_PIECES = 500_000
MAX_LEXEMES = 500_000
# The pieces lacking are asked of the server once this many listings wait for them, or this
# many pieces: one statement for many, and what waits in memory bounded whatever the texts.
SETTLE_LISTINGS = 1_000
SETTLE_PIECES = 100_000
# Rows held in memory before they spill to a file: a batch is one file however large.
SPOOL_BYTES = 32 * 1024 * 1024
COPY_CHUNK_BYTES = 1024 * 1024

# The process's cache of pieces, shared by its batches (made by the first)
_cache = None


@dataclass
class DocumentRows:
    """One batch's search documents as binary COPY rows, for the listings this process can lay
    out; the others are left to the server (features.INSERT_SEARCH_DOCUMENTS).

    `add` each listing, then `copy_into` once the writer's other COPY is over. The pieces
    the listings lack are asked of `reader` now and then (`settle`), between the fetches of
    its server-side cursor, when it is free. `for_batch` makes one.
    """

    reader: psycopg.Connection
    cache: object
    spool: IO[bytes]
    # listings whose pieces were not all known: (file_id, position, title, abstract)
    lacking: list[tuple[int, int, str, str]] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    rows: int = 0

    @classmethod
    @contextlib.contextmanager
    def for_batch(cls, reader: psycopg.Connection) -> Iterator[DocumentRows | None]:
        """A batch's rows, spooled until the batch ends; None where the server makes every
        document (the module not built, or a configuration not the stock one)."""
        global _cache
        if _compiled is None:
            yield None
            return
        (stock,) = reader.execute(STOCK_CONFIGURATIONS).fetchone()  # type: ignore[misc]
        if not stock:
            yield None
            return
        if _cache is None:
            _cache = _compiled.PieceCache()
        with tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES) as spool:
            spool.write(BINARY_SIGNATURE)
            yield cls(reader, _cache, spool)

    def add(self, file_id: int, position: int, title: str, abstract: str) -> None:
        if self._lay_out((file_id, position, title, abstract)) is False:
            self.lacking.append((file_id, position, title, abstract))
            if len(self.lacking) >= SETTLE_LISTINGS or len(self.missing) >= SETTLE_PIECES:
                self.settle()

    def _lay_out(self, listing: tuple[int, int, str, str]) -> bool | None:
        """Spool the listing's row: True; False where pieces are lacking (now in `missing`);
        None where the server makes its document."""
        lacking = len(self.missing)
        try:
            row = self.cache.row(*listing, self.missing)
        except Exception:  # a bug of the layout costs the listing its shortcut, nothing more
            del self.missing[lacking:]
            return None
        if row:
            self.spool.write(row)
            self.rows += 1
            return True
        return row

    def settle(self) -> None:
        """Learn the pieces the listings added since the last call lacked, and lay them out."""
        if not self.lacking:
            return
        if self.cache.pieces > MAX_PIECES or self.cache.lexemes > MAX_LEXEMES:
            # forgotten before it grows further; the listings waiting now lack every piece
            self.cache.clear()
            self.missing.clear()
            for listing in self.lacking:
                self._lay_out(listing)
        pieces = list(dict.fromkeys(self.missing))
        cursor = self.reader.cursor(binary=True)
        (parsed,) = cursor.execute(LEARN_PIECES, {"pieces": " ".join(pieces)}).fetchone()  # type: ignore[misc]
        # a parse the layout cannot hold (never) leaves the listings lacking it to the server
        with contextlib.suppress(ValueError):
            self.cache.learn(pieces, parsed)
        lacking, self.lacking = self.lacking, []
        self.missing.clear()
        for listing in lacking:
            self._lay_out(listing)  # still lacking: the server's
        self.missing.clear()

    def copy_into(self, writer: psycopg.Connection) -> int:
        """COPY the rows into features.listing_search_documents; how many."""
        self.settle()
        if self.rows:
            self.spool.write(BINARY_TRAILER)
            self.spool.seek(0)
            with writer.cursor().copy(COPY_SEARCH_DOCUMENTS) as copy:
                while chunk := self.spool.read(COPY_CHUNK_BYTES):
                    copy.write(chunk)
        return self.rows

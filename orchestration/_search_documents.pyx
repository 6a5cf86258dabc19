# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False, cdivision=True
"""Search documents laid out from the server's parse of each piece of a text: the documents
`setweight(to_tsvector('english', title), 'A') || setweight(to_tsvector('english', abstract), 'B')`
gives, as binary COPY rows of features.listing_search_documents, without the server parsing
the whole text again (search_documents.py says why that is exact, and when it gives up).

A piece is a run of characters between ASCII spaces, keyed by its UTF-8 bytes and by whether a
space stands before and after it. What the server said of it (the tokens it takes, each
lexeme at its position among them) is kept in a C hash table (PieceCache); a listing whose
pieces are all known is laid out here, in C, without a string or a dict lookup per piece.

Written by hand rather than in Python: the layout is about a hundred lookups and a hundred
positions a listing, and as Python objects they cost about as much as the server's parse.
"""

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize
from cpython.unicode cimport PyUnicode_AsUTF8AndSize
from libc.stdint cimport uint8_t, uint16_t, uint32_t
from libc.stdlib cimport calloc, free, malloc, qsort, realloc
from libc.string cimport memchr, memcmp, memcpy

cdef extern from *:
    const char *PAPERHOUSE_SOURCE_DIGEST  # defined by orchestration.compiled

cdef extern from "Python.h":
    # str's own hash (siphash, keyed per process): crafted pieces collide no more than in a dict
    Py_hash_t _Py_HashBytes(const void *data, Py_ssize_t size)

# the sha256 of this file when it was compiled (search_documents runs no stale build)
SOURCE_DIGEST = PAPERHOUSE_SOURCE_DIGEST.decode()

cdef enum:
    SPACE_BEFORE = 1
    SPACE_AFTER = 2
    FIRST_SLOTS = 1 << 14
    # tsvector's limits (PostgreSQL's ts_type.h): a position is at most MAXENTRYPOS - 1, and
    # to_tsvector keeps MAXNUMPOS - 1 positions of a lexeme. A text near either is the server's.
    MAX_POSITION = 16383
    MAX_POSITIONS = 255
    WEIGHT_A = 3 << 14
    WEIGHT_B = 2 << 14
    # The longest piece laid out here, in UTF-8 bytes. to_tsvector skips a token of 2,047 bytes
    # or more; no token of a shorter piece is that long, so each piece's parse is whole.
    MAX_PIECE_BYTES = 1000

# What `row` lists a lacking piece by: the piece after a mark of the spaces beside it, a digit
# (SPACE_BEFORE | SPACE_AFTER); a piece never holds a space, so a space can join them
SPACES_MARKS = ("0", "1", "2", "3")



cdef struct Entry:
    uint32_t lexeme  # its number in PieceCache.lexemes
    uint16_t position  # among the piece's tokens, from 1


cdef struct Piece:
    Py_hash_t hash
    uint32_t length
    uint8_t spaces  # SPACE_BEFORE | SPACE_AFTER
    uint16_t tokens  # the positions the piece takes, stop words included
    uint16_t entries
    Entry *entry  # in the same allocation, after the struct; the key's bytes after them


cdef struct Occurrence:
    uint32_t lexeme
    uint16_t position  # in the document, its weight not yet added


# the lexemes qsort compares: set before each sort (the GIL holds it for the call)
cdef char **sorted_data
cdef uint32_t *sorted_length


cdef int compare_lexemes(const void *a, const void *b) noexcept nogil:
    # tsvector's order (tsCompareString): bytes, then the shorter first
    cdef uint32_t x = (<uint32_t *>a)[0], y = (<uint32_t *>b)[0]
    cdef uint32_t lx = sorted_length[x], ly = sorted_length[y]
    cdef int order = memcmp(sorted_data[x], sorted_data[y], lx if lx < ly else ly)
    if order != 0:
        return order
    return (lx > ly) - (lx < ly)


cdef inline void put16(char *at, uint32_t value) noexcept nogil:
    at[0] = <char>((value >> 8) & 0xFF)
    at[1] = <char>(value & 0xFF)


cdef inline void put32(char *at, uint32_t value) noexcept nogil:
    at[0] = <char>((value >> 24) & 0xFF)
    at[1] = <char>((value >> 16) & 0xFF)
    at[2] = <char>((value >> 8) & 0xFF)
    at[3] = <char>(value & 0xFF)


cdef class PieceCache:
    """The server's parse of each piece seen, and the layout of a listing's document from them.

    `row` lays a listing out, or lists the pieces it lacks; `learn` keeps what the server said
    of them. `clear` forgets everything (a process's cache is bounded by its caller).
    """

    cdef Piece **slots
    cdef Py_ssize_t mask
    cdef readonly Py_ssize_t pieces
    # the lexemes, numbered in the order learned: the bytes objects, kept alive by the list
    cdef list lexeme_bytes
    cdef dict lexeme_numbers
    cdef char **lexeme_data
    cdef uint32_t *lexeme_length
    cdef Py_ssize_t lexeme_room
    # per lexeme, for the listing being laid out: its mark, and its place among the listing's
    cdef uint32_t *mark
    cdef uint32_t *place
    cdef uint32_t current_mark
    cdef uint32_t highest  # the highest position _lay_out gave
    # a listing's occurrences, in text order; its distinct lexemes; their counts and starts
    cdef Occurrence *occurrences
    cdef Py_ssize_t occurrence_room
    cdef uint32_t *distinct
    cdef uint32_t *counts
    cdef uint32_t *starts
    cdef uint16_t *positions
    cdef Py_ssize_t distinct_room

    def __cinit__(self):
        self.slots = <Piece **>calloc(FIRST_SLOTS, sizeof(Piece *))
        self.mask = FIRST_SLOTS - 1
        self.lexeme_bytes = []
        self.lexeme_numbers = {}
        if self.slots == NULL:
            raise MemoryError()

    def __dealloc__(self):
        self._free_pieces()
        free(self.slots)
        free(self.lexeme_data)
        free(self.lexeme_length)
        free(self.mark)
        free(self.place)
        free(self.occurrences)
        free(self.distinct)
        free(self.counts)
        free(self.starts)
        free(self.positions)

    cdef void _free_pieces(self):
        cdef Py_ssize_t k
        if self.slots == NULL:
            return
        for k in range(self.mask + 1):
            free(self.slots[k])
            self.slots[k] = NULL
        self.pieces = 0

    @property
    def lexemes(self):
        return len(self.lexeme_bytes)

    def clear(self):
        """Forget every piece and lexeme."""
        self._free_pieces()
        self.lexeme_bytes = []
        self.lexeme_numbers = {}

    cdef Piece **_slot(self, Py_hash_t key_hash, const char *key, uint32_t length, uint8_t spaces):
        # the slot holding the piece, or the empty slot it would take
        cdef Py_ssize_t k = <Py_ssize_t>(<size_t>key_hash & <size_t>self.mask)
        cdef Piece *piece
        while True:
            piece = self.slots[k]
            if piece == NULL:
                return &self.slots[k]
            if (
                piece.hash == key_hash
                and piece.length == length
                and piece.spaces == spaces
                and memcmp(<char *>(piece.entry + piece.entries), key, length) == 0
            ):
                return &self.slots[k]
            k = (k + 1) & self.mask

    cdef int _grow(self) except -1:
        cdef Piece **old = self.slots
        cdef Py_ssize_t k, at, count = self.mask + 1
        cdef Piece **slots = <Piece **>calloc(2 * count, sizeof(Piece *))
        if slots == NULL:
            raise MemoryError()
        self.slots = slots
        self.mask = 2 * count - 1
        for k in range(count):
            if old[k] != NULL:
                at = <Py_ssize_t>(<size_t>old[k].hash & <size_t>self.mask)
                while self.slots[at] != NULL:
                    at = (at + 1) & self.mask
                self.slots[at] = old[k]
        free(old)
        return 0

    cdef uint32_t _lexeme(self, bytes lexeme) except? 0xFFFFFFFF:
        # the lexeme's number, given one the first time it is seen
        number = self.lexeme_numbers.get(lexeme)
        if number is not None:
            return number
        cdef Py_ssize_t count = len(self.lexeme_bytes)
        cdef Py_ssize_t room
        if count == self.lexeme_room:
            room = max(1024, 2 * self.lexeme_room)
            self.lexeme_data = <char **>_grown(self.lexeme_data, room * sizeof(char *))
            self.lexeme_length = <uint32_t *>_grown(self.lexeme_length, room * sizeof(uint32_t))
            self.mark = <uint32_t *>_grown(self.mark, room * sizeof(uint32_t))
            self.place = <uint32_t *>_grown(self.place, room * sizeof(uint32_t))
            self.lexeme_room = room
        self.lexeme_bytes.append(lexeme)
        self.lexeme_numbers[lexeme] = count
        self.lexeme_data[count] = PyBytes_AS_STRING(lexeme)
        self.lexeme_length[count] = len(lexeme)
        self.mark[count] = 0
        return count

    def learn(self, list pieces, bytes parsed):
        """Keep the server's parse of each of `pieces` (as `row` listed them: each after the
        mark of its spaces). `parsed` is, piece after piece, with the spaces beside it, `to_tsvector('english', piece)` and
        `to_tsvector('simple', piece)` in tsvector's binary form. The `simple` configuration
        maps the same token types to a dictionary that keeps every token, so its highest
        position is the positions the piece takes."""
        cdef TsvectorReader reader = TsvectorReader(parsed)
        cdef Py_ssize_t entries
        cdef uint32_t tokens, position
        for piece in pieces:
            entries = 0
            reader.start()
            while reader.next_lexeme():
                number = self._lexeme(reader.lexeme())
                self._occurrence_room(entries + reader.positions_left)
                while reader.positions_left:
                    self.occurrences[entries].lexeme = number
                    self.occurrences[entries].position = reader.next_position()
                    entries += 1
            tokens = 0
            reader.start()
            while reader.next_lexeme():
                while reader.positions_left:
                    position = reader.next_position()
                    if position > tokens:
                        tokens = position
            self._keep(piece, tokens, entries)
        if reader.at != reader.end:
            raise ValueError("more parses than pieces")

    cdef int _keep(self, str piece, uint32_t tokens, Py_ssize_t entries) except -1:
        # the piece, its `tokens` and its first `entries` occurrences
        cdef Py_ssize_t size, k
        cdef const char *text = PyUnicode_AsUTF8AndSize(piece, &size)
        if size < 1 or text[0] < c"0" or text[0] > c"3":
            raise ValueError("a piece without the mark of its spaces")
        cdef uint8_t spaces = <uint8_t>(text[0] - c"0")
        text += 1
        size -= 1
        cdef Py_hash_t key_hash = _Py_HashBytes(text, size) ^ spaces
        cdef Piece **slot = self._slot(key_hash, text, <uint32_t>size, spaces)
        if slot[0] != NULL:
            return 0
        if tokens > MAX_POSITION or entries > 0xFFFF:
            raise ValueError(f"a piece of {tokens} tokens and {entries} lexemes' positions")
        for k in range(entries):
            if not 0 < self.occurrences[k].position <= tokens:
                raise ValueError(f"a position past a piece's {tokens} tokens")
        cdef Piece *made = <Piece *>malloc(sizeof(Piece) + entries * sizeof(Entry) + size)
        if made == NULL:
            raise MemoryError()
        made.hash = key_hash
        made.length = <uint32_t>size
        made.spaces = spaces
        made.tokens = <uint16_t>tokens
        made.entries = <uint16_t>entries
        made.entry = <Entry *>(<char *>made + sizeof(Piece))
        for k in range(entries):
            made.entry[k].lexeme = self.occurrences[k].lexeme
            made.entry[k].position = self.occurrences[k].position
        memcpy(<char *>(made.entry + entries), text, size)
        slot[0] = made
        self.pieces += 1
        if 2 * self.pieces > self.mask + 1:
            self._grow()
        return 0

    cdef int _occurrence_room(self, Py_ssize_t wanted) except -1:
        if wanted <= self.occurrence_room:
            return 0
        room = max(wanted, 2 * self.occurrence_room, 1024)
        self.occurrences = <Occurrence *>_grown(self.occurrences, room * sizeof(Occurrence))
        self.occurrence_room = room
        return 0

    cdef Py_ssize_t _lay_out(
        self, str text, uint32_t offset, Py_ssize_t count, list missing
    ) except -2:
        # append the text's occurrences after the first `count`, positions from `offset`: the
        # new count, or -1 where the text is the server's. Pieces not known go to `missing`,
        # and then nothing is laid out (the walk goes on only to find the others).
        cdef Py_ssize_t size, start = 0, end, k, lacking = len(missing)
        cdef const char *data = PyUnicode_AsUTF8AndSize(text, &size)
        cdef const char *space
        cdef uint8_t spaces
        cdef Py_hash_t key_hash
        cdef Piece *piece
        cdef uint16_t at
        self.highest = offset
        if memchr(data, b"<", size) != NULL:
            return -1  # a tag may span spaces: only the server's parse of the whole is sure
        while start < size:
            if data[start] == b" ":
                start += 1
                continue
            space = <const char *>memchr(data + start, b" ", size - start)
            end = size if space == NULL else space - data
            if end - start > MAX_PIECE_BYTES:
                return -1
            spaces = (SPACE_BEFORE if start > 0 else 0) | (SPACE_AFTER if end < size else 0)
            key_hash = _Py_HashBytes(data + start, end - start) ^ spaces
            piece = self._slot(key_hash, data + start, <uint32_t>(end - start), spaces)[0]
            if piece == NULL:
                missing.append(SPACES_MARKS[spaces] + data[start:end].decode("utf-8"))
            elif len(missing) == lacking:
                if offset + piece.tokens > MAX_POSITION:
                    return -1
                self._occurrence_room(count + piece.entries)
                for k in range(piece.entries):
                    at = <uint16_t>(offset + piece.entry[k].position)
                    self.occurrences[count].lexeme = piece.entry[k].lexeme
                    self.occurrences[count].position = at
                    if at > self.highest:
                        self.highest = at
                    count += 1
                offset += piece.tokens
            start = end
        return count

    def row(self, long long file_id, int position, str title, str abstract, list missing):
        """The listing's binary COPY row of features.listing_search_documents (file_id,
        position, search_document); or False, the pieces it lacks appended to `missing`, each
        after the mark of its spaces (SPACES_MARKS; learn them and ask again); or None where
        the document is the server's to make."""
        cdef Py_ssize_t lacking = len(missing)
        cdef Py_ssize_t in_title = self._lay_out(title, 0, 0, missing)
        if in_title < 0:
            del missing[lacking:]
            return None
        # the abstract's positions follow the title's highest, as tsvector's || places them
        cdef Py_ssize_t count = self._lay_out(abstract, self.highest, in_title, missing)
        if count < 0:
            del missing[lacking:]
            return None
        if len(missing) > lacking:
            return False
        return self._row(file_id, position, in_title, count)

    cdef object _row(self, long long file_id, int position, Py_ssize_t in_title, Py_ssize_t count):
        global sorted_data, sorted_length
        cdef Py_ssize_t k, n = 0, size
        cdef uint32_t lexeme, at, j
        cdef Occurrence *occurrence
        if count > self.distinct_room:
            room = max(count, 2 * self.distinct_room, 256)
            self.distinct = <uint32_t *>_grown(self.distinct, room * sizeof(uint32_t))
            self.counts = <uint32_t *>_grown(self.counts, room * sizeof(uint32_t))
            self.starts = <uint32_t *>_grown(self.starts, room * sizeof(uint32_t))
            self.positions = <uint16_t *>_grown(self.positions, room * sizeof(uint16_t))
            self.distinct_room = room
        self.current_mark += 1
        if self.current_mark == 0:  # wrapped: no lexeme may hold a mark from the last round
            for k in range(len(self.lexeme_bytes)):
                self.mark[k] = 0
            self.current_mark = 1
        for k in range(count):
            lexeme = self.occurrences[k].lexeme
            if self.mark[lexeme] != self.current_mark:
                self.mark[lexeme] = self.current_mark
                self.distinct[n] = lexeme
                n += 1
        sorted_data = self.lexeme_data
        sorted_length = self.lexeme_length
        qsort(self.distinct, n, sizeof(uint32_t), compare_lexemes)
        # where each lexeme's positions start, in its sorted place; the document's size
        size = 2 + 4 + 8 + 4 + 4 + 4 + 4
        for k in range(n):
            self.place[self.distinct[k]] = <uint32_t>k
            self.counts[k] = 0
        for k in range(count):
            self.counts[self.place[self.occurrences[k].lexeme]] += 1
        at = 0
        for k in range(n):
            if self.counts[k] > MAX_POSITIONS:
                return None
            self.starts[k] = at
            at += self.counts[k]
            size += self.lexeme_length[self.distinct[k]] + 1 + 2 + 2 * self.counts[k]
        # text order is position order: each lexeme's positions come out ascending
        for k in range(count):
            occurrence = &self.occurrences[k]
            at = self.place[occurrence.lexeme]
            self.positions[self.starts[at]] = occurrence.position | (
                WEIGHT_A if k < in_title else WEIGHT_B
            )
            self.starts[at] += 1
        cdef object row = PyBytes_FromStringAndSize(NULL, size)
        cdef char *out = PyBytes_AS_STRING(row)
        put16(out, 3)
        put32(out + 2, 8)
        put32(out + 6, <uint32_t>((<unsigned long long>file_id) >> 32))
        put32(out + 10, <uint32_t>(<unsigned long long>file_id))  # its low 32 bits
        put32(out + 14, 4)
        put32(out + 18, <uint32_t>position)
        put32(out + 22, <uint32_t>(size - 26))
        put32(out + 26, <uint32_t>n)
        out += 30
        at = 0
        for k in range(n):
            lexeme = self.distinct[k]
            memcpy(out, self.lexeme_data[lexeme], self.lexeme_length[lexeme])
            out += self.lexeme_length[lexeme]
            out[0] = 0
            put16(out + 1, self.counts[k])
            out += 3
            for j in range(self.counts[k]):
                put16(out, self.positions[at])
                out += 2
                at += 1
        return row


cdef class TsvectorReader:
    """tsvectors in their binary form (tsvectorsend's), one after another: each a count, then
    each lexeme's bytes, a NUL, a count of positions and the positions, all big-endian; checked
    as they are read."""

    cdef bytes data
    cdef const unsigned char *at
    cdef const unsigned char *end
    cdef uint32_t lexemes_left
    cdef uint32_t positions_left
    cdef const unsigned char *lexeme_start
    cdef Py_ssize_t lexeme_length

    def __cinit__(self, bytes data):
        self.data = data
        self.at = <const unsigned char *>PyBytes_AS_STRING(data)
        self.end = self.at + len(data)

    cdef int start(self) except -1:
        # the next tsvector
        if self.lexemes_left or self.positions_left:
            raise ValueError("a tsvector not all read")
        self.lexemes_left = self._take(4)
        return 0

    cdef uint32_t _take(self, int size) except? 0xFFFFFFFF:
        cdef uint32_t value = 0
        if self.end - self.at < size:
            raise ValueError("a tsvector cut short")
        for _ in range(size):
            value = (value << 8) | self.at[0]
            self.at += 1
        return value

    cdef bint next_lexeme(self) except -1:
        cdef const unsigned char *nul
        if self.positions_left:
            raise ValueError("a lexeme's positions not all read")
        if self.lexemes_left == 0:
            return False
        self.lexemes_left -= 1
        nul = <const unsigned char *>memchr(self.at, 0, self.end - self.at)
        if nul == NULL:
            raise ValueError("a tsvector's lexeme without its end")
        self.lexeme_start = self.at
        self.lexeme_length = nul - self.at
        self.at = nul + 1
        self.positions_left = self._take(2)
        return True

    cdef bytes lexeme(self):
        return PyBytes_FromStringAndSize(<const char *>self.lexeme_start, self.lexeme_length)

    cdef uint16_t next_position(self) except? 0xFFFF:
        self.positions_left -= 1
        return self._take(2) & 0x3FFF  # the weight's two bits off


cdef void *_grown(void *block, size_t size) except NULL:
    cdef void *grown = realloc(block, size)
    if grown == NULL:
        raise MemoryError()
    return grown

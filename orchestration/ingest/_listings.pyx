# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False
"""A listing file's bytes straight to raw.paper_listings' binary COPY rows, for the files the
parser (parse.py, decode.py) reads without a word to say: the common case, compiled.

`listing_rows` follows ListingParser line for line, over the bytes of a whole
file, and gives up (returns None) wherever the parser would warn, reject the
file or do anything less common than reading a clean UTF-8 page: a byte that
is not valid UTF-8, a NUL or a CR, an overlong line, a header or metadata line
with characters beyond ASCII where the parser's regular expressions would
weigh them (Unicode digits and spaces). Then the Python parser reads the
file, as it reads every file where this module is not built. So the Python
modules stay the rule; property tests hold this module's rows equal to the
rows of the parser's listings wherever it does not give up.

Written by hand, not the Python compiled: the cost of the Python parser is
its objects (a str per line, a tuple per listing, psycopg's per-value
dumpers), which compiled code that keeps them costs as much; this module
makes none per listing.

`encoded_rows` writes the parser's Listing tuples as the same rows: one COPY
holds rows of both kinds, and psycopg's own row writer cannot share it.
"""

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.unicode cimport PyUnicode_AsUTF8AndSize
from libc.stdint cimport int64_t, uint32_t, uint64_t
from libc.stdlib cimport free, malloc, realloc
from libc.string cimport memchr, memcmp, memcpy

cdef extern from *:
    const char *PAPERHOUSE_SOURCE_DIGEST  # defined by orchestration.compiled

# the sha256 of this file when it was compiled (load runs no stale build)
SOURCE_DIGEST = PAPERHOUSE_SOURCE_DIGEST.decode()

# PostgreSQL's binary COPY: the signature, flags and header extension length; -1 ends the rows
SIGNATURE = b"PGCOPY\n\xff\r\n\x00" + b"\x00\x00\x00\x00" + b"\x00\x00\x00\x00"
TRAILER = b"\xff\xff"

cdef enum:
    NO = 0
    YES = 1
    UNKNOWN = 2  # the parser's Unicode-aware patterns might say either: give up
    FIELDS = 10  # file_id, then Listing's nine fields
    # as parse.py and decode.py
    MAX_LINE_CHARS = 100000
    MAX_TITLE_CHARS = 1000
    SUSPECT_TITLE_CHARS = 300
    MIN_ABSTRACT_CHARS = 150
    # date.toordinal() of 2000-01-01, PostgreSQL's day zero
    POSTGRES_EPOCH_ORDINAL = 730120

cdef int64_t MAX_COUNT = 2147483647

LAYOUTS = ("compact", "blocks", "blocks_with_metadata")

cdef const char *MONTH_NAMES = b"JanFebMarAprMayJunJulAugSepOctNovDec"
# parse.HEADER_LINES, and the first words of them that open parse.SPECIAL_START
cdef tuple HEADER_LINES = (
    b"new",
    b"Get trending papers in your email inbox once a day!",
    b"Get trending papers in your email inbox!",
    b"Subscribe",
    b"Daily Papers",
    b"byAK and the research community",
)
cdef tuple SPECIAL_WORDS = (b"new", b"Get", b"Subscribe", b"Daily", b"byAK")
cdef bytes BULLET = "•".encode()
cdef bytes SEPARATOR = "·".encode()

# what this module shares with parse.py, dates.py and decode.py: a test holds them equal
SHARED = {
    "MAX_LINE_CHARS": MAX_LINE_CHARS,
    "MAX_TITLE_CHARS": MAX_TITLE_CHARS,
    "SUSPECT_TITLE_CHARS": SUSPECT_TITLE_CHARS,
    "MIN_ABSTRACT_CHARS": MIN_ABSTRACT_CHARS,
    "MAX_COUNT": MAX_COUNT,
    "MONTHS": MONTH_NAMES.decode(),
    "HEADER_LINES": HEADER_LINES,
    "SPECIAL_WORDS": SPECIAL_WORDS,
    "BULLET": BULLET,
    "SEPARATOR": SEPARATOR,
}


cdef struct Span:
    Py_ssize_t start
    Py_ssize_t end
    int number  # the line's number in the file, from 1


cdef struct Buffer:
    char *data
    Py_ssize_t length
    Py_ssize_t capacity


cdef struct Date:
    int year
    int month
    int day


# ---------------------------------------------------------------- bytes and text

cdef inline bint is_space(unsigned char c) noexcept nogil:
    # what str.strip() and the patterns' \s take among ASCII characters
    return c == 32 or 9 <= c <= 13 or 28 <= c <= 31


cdef bint valid_utf8(const unsigned char *s, Py_ssize_t n) noexcept nogil:
    """Whether Python's strict UTF-8 decoder takes these bytes (no overlong forms, no
    surrogates, nothing past U+10FFFF)."""
    cdef Py_ssize_t i = 0
    cdef unsigned char c, low, high
    cdef int follow, k
    while i < n:
        c = s[i]
        if c < 0x80:
            i += 1
            continue
        low, high = 0x80, 0xBF
        if 0xC2 <= c <= 0xDF:
            follow = 1
        elif 0xE0 <= c <= 0xEF:
            follow = 2
            if c == 0xE0:
                low = 0xA0
            elif c == 0xED:
                high = 0x9F
        elif 0xF0 <= c <= 0xF4:
            follow = 3
            if c == 0xF0:
                low = 0x90
            elif c == 0xF4:
                high = 0x8F
        else:
            return False
        if i + follow >= n:
            return False
        if not (low <= s[i + 1] <= high):
            return False
        for k in range(2, follow + 1):
            if s[i + k] & 0xC0 != 0x80:
                return False
        i += follow + 1
    return True


cdef bint unicode_space_at(const unsigned char *s, Py_ssize_t at) noexcept nogil:
    """Whether the character starting at s[at] (not ASCII) is one str.strip() removes:
    U+0085, U+00A0, U+1680, U+2000-U+200A, U+2028, U+2029, U+202F, U+205F, U+3000."""
    cdef unsigned char c = s[at]
    if c == 0xC2:
        return s[at + 1] == 0x85 or s[at + 1] == 0xA0
    if c == 0xE1:
        return s[at + 1] == 0x9A and s[at + 2] == 0x80
    if c == 0xE2:
        if s[at + 1] == 0x80:
            return s[at + 2] <= 0x8A or s[at + 2] == 0xA8 or s[at + 2] == 0xA9 or s[at + 2] == 0xAF
        return s[at + 1] == 0x81 and s[at + 2] == 0x9F
    if c == 0xE3:
        return s[at + 1] == 0x80 and s[at + 2] == 0x80
    return False


cdef int strip(const unsigned char *s, Py_ssize_t *start, Py_ssize_t *end) noexcept nogil:
    """Narrow [start, end) as str.strip() would: YES, or UNKNOWN where a space beyond ASCII
    stands at either end."""
    cdef Py_ssize_t a = start[0], b = end[0], last
    while a < b and is_space(s[a]):
        a += 1
    while b > a and is_space(s[b - 1]):
        b -= 1
    if a < b:
        if s[a] >= 0x80 and unicode_space_at(s, a):
            return UNKNOWN
        if s[b - 1] >= 0x80:
            last = b - 1
            while s[last] & 0xC0 == 0x80:
                last -= 1
            if unicode_space_at(s, last):
                return UNKNOWN
    start[0], end[0] = a, b
    return YES


cdef inline Py_ssize_t characters(const unsigned char *s, Py_ssize_t a, Py_ssize_t b) noexcept nogil:
    """len() of the valid UTF-8 text s[a:b]: its bytes that start a character."""
    cdef Py_ssize_t count = 0
    while a < b:
        if s[a] & 0xC0 != 0x80:
            count += 1
        a += 1
    return count


cdef inline bint equals(const unsigned char *s, Py_ssize_t a, Py_ssize_t b, bytes word):
    return b - a == PyBytes_GET_SIZE(word) and memcmp(s + a, PyBytes_AS_STRING(word), b - a) == 0


cdef inline bint starts_with(const unsigned char *s, Py_ssize_t a, Py_ssize_t b, bytes word):
    return b - a >= PyBytes_GET_SIZE(word) and memcmp(s + a, PyBytes_AS_STRING(word), PyBytes_GET_SIZE(word)) == 0


cdef int month_at(const unsigned char *s, Py_ssize_t a, Py_ssize_t b) noexcept nogil:
    """The month (1-12) whose name opens s[a:b], else 0."""
    cdef int month
    if b - a < 3:
        return 0
    for month in range(12):
        if memcmp(s + a, MONTH_NAMES + 3 * month, 3) == 0:
            return month + 1
    return 0


cdef bint is_special(const unsigned char *s, Py_ssize_t a, Py_ssize_t b):
    """parse.SPECIAL_START.match: a month, the bullet, the separator or a header line's first word
    opens the line."""
    if month_at(s, a, b) or starts_with(s, a, b, BULLET) or starts_with(s, a, b, SEPARATOR):
        return True
    for word in SPECIAL_WORDS:
        if starts_with(s, a, b, word):
            return True
    return False


# ------------------------------------------------- the patterns of dates.py and parse.py
#
# Each matches a whole line as `re.fullmatch` does. The parser's patterns take
# Unicode spaces for \s and Unicode digits for \d: a space beyond ASCII, or any
# character beyond ASCII where a digit may stand, gives UNKNOWN (the digits are
# a table that changes with Python's Unicode version).

cdef inline int spaces(const unsigned char *s, Py_ssize_t *p, Py_ssize_t b, bint at_least_one) noexcept nogil:
    """Skip \\s* (or \\s+) at p: YES, NO when one is needed and none stands there, or UNKNOWN
    at a space beyond ASCII."""
    cdef Py_ssize_t start = p[0]
    while p[0] < b and is_space(s[p[0]]):
        p[0] += 1
    if p[0] < b and s[p[0]] >= 0x80 and unicode_space_at(s, p[0]):
        return UNKNOWN
    return NO if at_least_one and p[0] == start else YES


cdef inline int digits(const unsigned char *s, Py_ssize_t *p, Py_ssize_t b) noexcept nogil:
    """Skip \\d+ at p: YES, NO, or UNKNOWN when a byte beyond ASCII starts or follows them."""
    cdef Py_ssize_t start = p[0]
    while p[0] < b and 48 <= s[p[0]] <= 57:
        p[0] += 1
    if p[0] < b and s[p[0]] >= 0x80:
        return UNKNOWN
    return NO if p[0] == start else YES


cdef struct DateLine:
    int month
    Py_ssize_t day_start, day_end
    Py_ssize_t year_start, year_end  # equal when the line has no year
    Py_ssize_t upvotes_start, upvotes_end  # equal when it has no upvotes
    Py_ssize_t written_end  # the date as written ends here, before the upvotes


cdef int spaced_digits(
    const unsigned char *s, Py_ssize_t *p, Py_ssize_t b, bint space_needed, Py_ssize_t *start
) noexcept nogil:
    """\\s* (or \\s+) then \\d+ at p: YES with the digits' start in `start`, NO, or UNKNOWN."""
    cdef int step = spaces(s, p, b, space_needed)
    if step != YES:
        return step
    start[0] = p[0]
    return digits(s, p, b)


cdef int month_and_day(
    const unsigned char *s, Py_ssize_t a, Py_ssize_t b, Py_ssize_t *p, DateLine *found
) noexcept nogil:
    """`Sep 3` at the line's start, what both date patterns open with; p is moved past it."""
    cdef int month = month_at(s, a, b)
    cdef int step
    if month == 0:
        return NO
    p[0] = a + 3
    step = spaced_digits(s, p, b, True, &found.day_start)
    if step != YES:
        return step
    found.month = month
    found.day_end = p[0]
    return YES


cdef int page_date(const unsigned char *s, Py_ssize_t a, Py_ssize_t b, DateLine *found) noexcept nogil:
    """dates.PAGE_DATE: `Sep 3`."""
    cdef Py_ssize_t p
    cdef int step = month_and_day(s, a, b, &p, found)
    if step != YES:
        return step
    return YES if p == b else NO


cdef int listing_date(const unsigned char *s, Py_ssize_t a, Py_ssize_t b, DateLine *found) noexcept nogil:
    """dates.LISTING_DATE: `Jul 1, 2021`, `Oct 6 2`, `Oct 21, 2024 3`."""
    cdef Py_ssize_t p
    cdef int step = month_and_day(s, a, b, &p, found)
    if step != YES:
        return step
    found.year_start = found.year_end = p
    found.upvotes_start = found.upvotes_end = found.written_end = p
    if p < b and s[p] == 44:  # `,` then the year
        p += 1
        step = spaced_digits(s, &p, b, False, &found.year_start)
        if step != YES:
            return step
        found.year_end = found.written_end = p
    if p == b:
        return YES
    step = spaced_digits(s, &p, b, True, &found.upvotes_start)
    if step != YES:
        return step
    found.upvotes_end = p
    return YES if p == b else NO


cdef int authors_line(const unsigned char *s, Py_ssize_t a, Py_ssize_t b, Py_ssize_t *count_start, Py_ssize_t *count_end):
    """parse.AUTHORS_LINE: `• 4 authors`."""
    cdef Py_ssize_t p
    cdef int step
    if not starts_with(s, a, b, BULLET):
        return NO
    p = a + PyBytes_GET_SIZE(BULLET)
    step = spaced_digits(s, &p, b, False, count_start)
    if step != YES:
        return step
    count_end[0] = p
    step = spaces(s, &p, b, True)
    if step != YES:
        return step
    if b - p < 6 or memcmp(s + p, b"author", 6) != 0:
        return NO
    p += 6
    if p < b and s[p] == 115:  # `s`
        p += 1
    return YES if p == b else NO


cdef int is_header(const unsigned char *s, Py_ssize_t a, Py_ssize_t b):
    cdef DateLine unused
    for line in HEADER_LINES:
        if equals(s, a, b, line):
            return YES
    return page_date(s, a, b, &unused)


cdef int is_metadata(const unsigned char *s, Py_ssize_t a, Py_ssize_t b):
    cdef DateLine unused
    cdef Py_ssize_t x, y
    cdef int authors, dated
    if equals(s, a, b, SEPARATOR):
        return YES
    authors = authors_line(s, a, b, &x, &y)
    if authors == YES:
        return YES
    dated = listing_date(s, a, b, &unused)
    if dated == YES:
        return YES
    return UNKNOWN if authors == UNKNOWN or dated == UNKNOWN else NO


cdef int64_t bounded_int(const unsigned char *s, Py_ssize_t a, Py_ssize_t b, int64_t limit) noexcept nogil:
    """dates.bounded_int over ASCII digits: the number, or -1 above `limit`."""
    cdef int64_t number = 0
    while a < b and s[a] == 48:
        a += 1
    if b - a > 10:
        return -1
    while a < b:
        number = number * 10 + (s[a] - 48)
        a += 1
    return number if number <= limit else -1


# ----------------------------------------------------------------------- dates

cdef inline bint is_leap(int year) noexcept nogil:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


cdef bint exists(int year, int month, int day) noexcept nogil:
    """Whether datetime.date(year, month, day) exists."""
    cdef int last
    if year < 1 or year > 9999 or month < 1 or month > 12 or day < 1:
        return False
    if month == 2:
        last = 29 if is_leap(year) else 28
    elif month == 4 or month == 6 or month == 9 or month == 11:
        last = 30
    else:
        last = 31
    return day <= last


cdef inline bint on_or_before_limit(int year, int month, int day, Date limit) noexcept nogil:
    if year != limit.year:
        return year < limit.year
    if month != limit.month:
        return month < limit.month
    return day <= limit.day


cdef bint on_or_before(int month, int day, Date limit, Date *found) noexcept nogil:
    """dates.on_or_before: the latest existing date with this month and day, on or before
    `limit`, looking back eight years."""
    cdef int year
    for year in range(limit.year, limit.year - 8, -1):
        if exists(year, month, day) and on_or_before_limit(year, month, day, limit):
            found.year, found.month, found.day = year, month, day
            return True
    return False


cdef int days_since_2000(Date when) noexcept nogil:
    """PostgreSQL's binary date: days from 2000-01-01 (proleptic Gregorian, as date.toordinal)."""
    cdef int y = when.year - 1
    cdef int ordinal = y * 365 + y // 4 - y // 100 + y // 400
    cdef int month
    for month in range(1, when.month):
        if month == 2:
            ordinal += 29 if is_leap(when.year) else 28
        elif month == 4 or month == 6 or month == 9 or month == 11:
            ordinal += 30
        else:
            ordinal += 31
    return ordinal + when.day - POSTGRES_EPOCH_ORDINAL


# ---------------------------------------------------------------------- the rows

cdef int grow(Buffer *out, Py_ssize_t more) except -1:
    cdef Py_ssize_t wanted = out.length + more
    cdef char *larger
    if wanted <= out.capacity:
        return 0
    wanted = max(wanted, 2 * out.capacity)
    larger = <char *>realloc(out.data, wanted)
    if larger == NULL:
        raise MemoryError()
    out.data, out.capacity = larger, wanted
    return 0


cdef inline void put_u16(Buffer *out, unsigned int value) noexcept nogil:
    out.data[out.length] = <char>((value >> 8) & 0xFF)
    out.data[out.length + 1] = <char>(value & 0xFF)
    out.length += 2


cdef inline void put_u32(Buffer *out, uint32_t value) noexcept nogil:
    out.data[out.length] = <char>((value >> 24) & 0xFF)
    out.data[out.length + 1] = <char>((value >> 16) & 0xFF)
    out.data[out.length + 2] = <char>((value >> 8) & 0xFF)
    out.data[out.length + 3] = <char>(value & 0xFF)
    out.length += 4


cdef inline int put_int4(Buffer *out, int64_t value) except -1:
    """An int4 field, or NULL when `value` is negative (no count here is)."""
    grow(out, 8)
    if value < 0:
        put_u32(out, 0xFFFFFFFF)
    else:
        put_u32(out, 4)
        put_u32(out, <uint32_t>value)
    return 0


cdef inline int put_int8(Buffer *out, int64_t value) except -1:
    grow(out, 12)
    put_u32(out, 8)
    put_u32(out, <uint32_t>(<uint64_t>value >> 32))
    put_u32(out, <uint32_t>(<uint64_t>value & 0xFFFFFFFF))
    return 0


cdef inline int put_text(Buffer *out, const char *text, Py_ssize_t length) except -1:
    """A text field, or NULL when `text` is NULL."""
    grow(out, 4 + (length if text != NULL else 0))
    if text == NULL:
        put_u32(out, 0xFFFFFFFF)
        return 0
    put_u32(out, <uint32_t>length)
    memcpy(out.data + out.length, text, length)
    out.length += length
    return 0


cdef inline int put_date(Buffer *out, bint present, Date when) except -1:
    grow(out, 8)
    if not present:
        put_u32(out, 0xFFFFFFFF)
    else:
        put_u32(out, 4)
        put_u32(out, <uint32_t>days_since_2000(when))
    return 0


cdef bytes taken(Buffer *out):
    cdef bytes rows = PyBytes_FromStringAndSize(out.data, out.length)
    free(out.data)
    out.data = NULL
    return rows


cdef struct Metadata:
    int64_t authors_count  # -1: none
    Py_ssize_t organization_start, organization_end  # equal: none
    bint dated
    Py_ssize_t written_start, written_end
    Date published_on
    int64_t upvotes  # -1: none


# ------------------------------------------------------------------ the parser

cdef class _Page:
    """ListingParser's state over one file's bytes."""

    cdef const unsigned char *s
    cdef Span *lines
    cdef Py_ssize_t count
    cdef Date modified_on
    cdef bint has_page_date
    cdef Date page_date
    cdef int header_lines
    cdef bint metadata_seen
    cdef bint bare_record_seen

    cdef Date scraped_on(self):
        return self.page_date if self.has_page_date else self.modified_on

    cdef int take_header(self, Py_ssize_t a, Py_ssize_t b):
        """_take_header: YES when the line is a header line (counted), NO, or UNKNOWN."""
        cdef DateLine found
        cdef int dated
        cdef int64_t day
        for line in HEADER_LINES:
            if equals(self.s, a, b, line):
                self.header_lines += 1
                return YES
        dated = page_date(self.s, a, b, &found)
        if dated != YES:
            return dated
        self.header_lines += 1
        if not self.has_page_date:
            day = bounded_int(self.s, found.day_start, found.day_end, 31)
            # a page date naming no day leaves the parser's page date unset: uncommon, give up
            if day < 0 or not on_or_before(found.month, <int>day, self.modified_on, &self.page_date):
                return UNKNOWN
            self.has_page_date = True
        return YES

    cdef int take_metadata(self, Py_ssize_t *i, Metadata *found) except -2:
        """_take_metadata from line i on: YES when the lines there give a Listing's fields (then
        i is moved past them), NO when they give none, UNKNOWN."""
        cdef const unsigned char *s = self.s
        cdef Py_ssize_t end = self.count, x, y, count_start = 0, count_end = 0
        cdef Span first
        cdef int authors, step
        cdef bint separated
        cdef DateLine date_line
        cdef int64_t day, year
        found.authors_count = -1
        found.organization_start = found.organization_end = 0
        found.dated = False
        found.upvotes = -1
        if i[0] >= end:
            return NO
        first = self.lines[i[0]]
        authors = authors_line(s, first.start, first.end, &count_start, &count_end)
        if authors == UNKNOWN:
            return UNKNOWN
        if authors == YES:
            found.authors_count = bounded_int(s, count_start, count_end, MAX_COUNT)
            if found.authors_count < 0:
                return UNKNOWN  # the parser warns of the count
            i[0] += 1
        elif i[0] + 1 < end and equals(s, self.lines[i[0] + 1].start, self.lines[i[0] + 1].end, SEPARATOR):
            # _is_organization: a line before the separator that is no metadata or header line
            step = is_metadata(s, first.start, first.end)
            if step == NO:
                step = is_header(s, first.start, first.end)
            if step == UNKNOWN:
                return UNKNOWN
            if step == NO:
                found.organization_start, found.organization_end = first.start, first.end
                i[0] += 1
        separated = i[0] < end and equals(s, self.lines[i[0]].start, self.lines[i[0]].end, SEPARATOR)
        if separated:
            i[0] += 1
        elif authors != YES and found.organization_end == found.organization_start:
            return NO
        self.metadata_seen = True
        if i[0] >= end:
            return UNKNOWN if separated else YES  # the parser warns of a `·` without a date
        x, y = self.lines[i[0]].start, self.lines[i[0]].end
        step = listing_date(s, x, y, &date_line)
        if step == UNKNOWN:
            return UNKNOWN
        if step == NO:
            return UNKNOWN if separated else YES
        # dates.parse_listing_date; where the date does not exist the parser warns
        day = bounded_int(s, date_line.day_start, date_line.day_end, 31)
        if day < 0:
            return UNKNOWN
        if date_line.year_end > date_line.year_start:
            year = bounded_int(s, date_line.year_start, date_line.year_end, 9999)
            if year < 0 or not exists(<int>year, date_line.month, <int>day):
                return UNKNOWN
            found.published_on.year, found.published_on.month = <int>year, date_line.month
            found.published_on.day = <int>day
        elif not on_or_before(date_line.month, <int>day, self.scraped_on(), &found.published_on):
            return UNKNOWN
        if date_line.upvotes_end > date_line.upvotes_start:
            found.upvotes = bounded_int(s, date_line.upvotes_start, date_line.upvotes_end, MAX_COUNT)
            if found.upvotes < 0:
                return UNKNOWN  # the parser warns of the count
        found.dated = True
        found.written_start, found.written_end = x, date_line.written_end
        i[0] += 1
        return YES


def listing_rows(bytes data, int64_t file_id, object modified_on):
    """The file's listings as binary COPY rows of raw.paper_listings (no signature), with
    what ListingParser would tell of the file: `(rows, listing count, layout, page date or
    None)`; None where the Python parser must read the file.

    `data` is the whole file; `modified_on` its modification day (a datetime.date).
    """
    cdef const unsigned char *s = <const unsigned char *>PyBytes_AS_STRING(data)
    cdef Py_ssize_t n = PyBytes_GET_SIZE(data)
    cdef Py_ssize_t a, b, newline, i, title_chars, abstract_chars
    cdef Py_ssize_t line_count = 0, capacity = 0
    cdef int number = 0, step
    cdef bint blank_seen = False, after_header = False, special
    cdef Span title, abstract
    cdef Metadata extras
    cdef Buffer out
    cdef int64_t listings = 0
    cdef _Page page = _Page()
    cdef Span *lines = NULL
    cdef Span *grown
    cdef const unsigned char *line_end

    if n == 0 or memchr(s, 0, n) != NULL or memchr(s, 13, n) != NULL or not valid_utf8(s, n):
        return None
    page.s = s
    page.modified_on.year, page.modified_on.month = modified_on.year, modified_on.month
    page.modified_on.day = modified_on.day
    out.data, out.length, out.capacity = NULL, 0, 0
    try:
        # decode._batches and ListingParser._nonblank: the lines that are not blank, stripped
        capacity = n // 64 + 16
        lines = <Span *>malloc(capacity * sizeof(Span))
        if lines == NULL:
            raise MemoryError()
        a = 0
        while a < n:
            line_end = <const unsigned char *>memchr(s + a, 10, n - a)
            newline = line_end - s if line_end != NULL else n
            number += 1
            b = newline
            if b - a >= MAX_LINE_CHARS:
                return None  # the decoder's overlong line, counted in characters
            if strip(s, &a, &b) == UNKNOWN:
                return None
            if a == b:
                blank_seen = True
            else:
                if line_count == capacity:
                    capacity *= 2
                    grown = <Span *>realloc(lines, capacity * sizeof(Span))
                    if grown == NULL:
                        raise MemoryError()
                    lines = grown
                lines[line_count].start, lines[line_count].end = a, b
                lines[line_count].number = number
                line_count += 1
            a = newline + 1
        page.lines, page.count = lines, line_count

        grow(&out, n + n // 4 + 64)
        i = 0
        while i < line_count:
            title = lines[i]
            i += 1
            special = is_special(s, title.start, title.end)
            if special:
                step = page.take_header(title.start, title.end)
                if step == UNKNOWN:
                    return None
                if step == YES:
                    after_header = True
                    continue
            if after_header and starts_with(s, title.start, title.end, b"Subscribe"):
                # the compact page glues its first title to the Subscribe button
                title.start += 9
                if strip(s, &title.start, &title.end) == UNKNOWN:
                    return None
                step = page.take_header(title.start, title.end)
                if step == UNKNOWN:
                    return None
                if step == YES:
                    continue
                special = is_special(s, title.start, title.end)
            after_header = False
            if page.header_lines == 0:
                return None  # not a listing page: the parser says why
            if special and is_metadata(s, title.start, title.end) != NO:
                return None  # metadata where a title should be: the parser warns
            if i == line_count:
                return None  # a title without an abstract: the parser warns
            abstract = lines[i]
            if is_special(s, abstract.start, abstract.end):
                step = is_header(s, abstract.start, abstract.end)
                if step == NO:
                    step = is_metadata(s, abstract.start, abstract.end)
                if step != NO:
                    return None
            i += 1
            step = page.take_metadata(&i, &extras)
            if step == UNKNOWN:
                return None
            if step == NO:
                page.bare_record_seen = True
            title_chars = characters(s, title.start, title.end)
            abstract_chars = characters(s, abstract.start, abstract.end)
            if (
                title_chars > MAX_TITLE_CHARS
                or (title_chars > SUSPECT_TITLE_CHARS and title_chars > abstract_chars)
                or abstract_chars < MIN_ABSTRACT_CHARS
            ):
                return None  # the parser skips or warns
            listings += 1
            if listings > MAX_COUNT:
                return None
            grow(&out, 2)
            put_u16(&out, FIELDS)
            put_int8(&out, file_id)
            put_int4(&out, listings)
            put_int4(&out, title.number)
            put_text(&out, <const char *>s + title.start, title.end - title.start)
            put_text(&out, <const char *>s + abstract.start, abstract.end - abstract.start)
            put_int4(&out, extras.authors_count)
            put_text(
                &out,
                <const char *>s + extras.organization_start if extras.organization_end > extras.organization_start else NULL,
                extras.organization_end - extras.organization_start,
            )
            put_text(
                &out,
                <const char *>s + extras.written_start if extras.dated else NULL,
                extras.written_end - extras.written_start if extras.dated else 0,
            )
            put_date(&out, extras.dated, extras.published_on)
            put_int4(&out, extras.upvotes if extras.dated else -1)
        if listings == 0 or (page.metadata_seen and page.bare_record_seen):
            return None  # no listings, or records out of step: the parser says so
        page_day = None
        if page.has_page_date:
            page_day = type(modified_on)(page.page_date.year, page.page_date.month, page.page_date.day)
        layout = 2 if page.metadata_seen else 1 if blank_seen else 0
        return taken(&out), listings, LAYOUTS[layout], page_day
    finally:
        free(lines)
        free(out.data)


def encoded_rows(int64_t file_id, list listings):
    """parse.Listing tuples as binary COPY rows of raw.paper_listings, file_id first (no
    signature): the rows psycopg would write for `(file_id, *listing)`."""
    cdef Buffer out
    cdef Py_ssize_t length
    cdef const char *text
    cdef Date day
    out.data, out.length, out.capacity = NULL, 0, 0
    try:
        grow(&out, 1024)
        for listing in listings:
            position, line_number, title, abstract, authors, organization, written, published, upvotes = listing
            grow(&out, 2)
            put_u16(&out, FIELDS)
            put_int8(&out, file_id)
            put_int4(&out, position)
            put_int4(&out, line_number)
            text = PyUnicode_AsUTF8AndSize(title, &length)
            put_text(&out, text, length)
            text = PyUnicode_AsUTF8AndSize(abstract, &length)
            put_text(&out, text, length)
            put_int4(&out, -1 if authors is None else authors)
            for value in (organization, written):
                if value is None:
                    put_text(&out, NULL, 0)
                else:
                    text = PyUnicode_AsUTF8AndSize(value, &length)
                    put_text(&out, text, length)
            if published is None:
                put_date(&out, False, day)
            else:
                day.year, day.month, day.day = published.year, published.month, published.day
                put_date(&out, True, day)
            put_int4(&out, -1 if upvotes is None else upvotes)
        return taken(&out)
    finally:
        free(out.data)

# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False
"""`extract._phrase_counts` compiled: the keyphrase rule's innermost loop in C.

The Python function is the reference; a property test holds the two equal on
any text. It stays the rule's readable statement, and what runs where this
module is not built (`make` builds it; see extract.py).

What makes this fast is not the compiler alone (the Python, compiled as it
stands, runs about a tenth faster) but the representation: a gram is the
indexes of its words, counted in a C hash table, and a phrase's string is made
only for the few dozen candidates that survive, not for each of the hundred
or so gram occurrences a listing has.
"""

from cpython.dict cimport PyDict_GetItem, PyDict_SetItem
from cpython.object cimport PyObject
from cpython.unicode cimport PyUnicode_Join
from libc.stdint cimport uint64_t
from libc.stdlib cimport calloc, free, malloc

# as in extract.py: _Token's fields, the two fields' codes, the ranks of a written form
cdef enum:
    WORD = 0
    IS_BREAKER = 1
    IS_GENERIC = 2
    IS_NAMED = 3
    WRITTEN = 4
    MAY_START = 5
    MAY_CONTINUE = 6
    IN_TITLE = 4
    IN_ABSTRACT = 5
    MID_SENTENCE = 0
    IN_THE_TITLE = 1
    SENTENCE_START = 2
    NO_WORD = -1


cdef struct Gram:
    int ids[3]  # the words' numbers in this call, NO_WORD past word_count
    int word_count
    bint of_form  # `X of Y`: no last word to make singular
    bint all_generic
    bint is_named
    bint dominated
    int occurrences[2]  # title, abstract
    int shown_rank  # -1 until the first occurrence is read
    int shown_field
    int shown_start
    PyObject *words[3]  # borrowed from the tokens, which outlive the call


cdef struct Table:
    Gram *grams  # in the order of first occurrence, as the reference's dict
    int count
    int *slots  # open addressing: index into grams + 1, 0 for an empty slot
    uint64_t mask


cdef inline uint64_t _hash(const int *ids) noexcept nogil:
    cdef uint64_t h = 0x9E3779B97F4A7C15ULL
    cdef int k
    for k in range(3):
        h = (h ^ <uint64_t>(<unsigned int>ids[k])) * 0xBF58476D1CE4E5B9ULL
        h ^= h >> 31
    return h


cdef inline bint _same(const int *a, const int *b) noexcept nogil:
    return a[0] == b[0] and a[1] == b[1] and a[2] == b[2]


cdef Gram *_find(Table *table, const int *ids) noexcept nogil:
    cdef uint64_t slot = _hash(ids) & table.mask
    cdef int at
    while True:
        at = table.slots[slot]
        if at == 0:
            return NULL
        if _same(table.grams[at - 1].ids, ids):
            return &table.grams[at - 1]
        slot = (slot + 1) & table.mask


cdef Gram *_find_or_add(Table *table, const int *ids, bint *added) noexcept nogil:
    cdef uint64_t slot = _hash(ids) & table.mask
    cdef int at
    while True:
        at = table.slots[slot]
        if at == 0:
            table.grams[table.count].ids[0] = ids[0]
            table.grams[table.count].ids[1] = ids[1]
            table.grams[table.count].ids[2] = ids[2]
            table.count += 1
            table.slots[slot] = table.count
            added[0] = True
            return &table.grams[table.count - 1]
        if _same(table.grams[at - 1].ids, ids):
            added[0] = False
            return &table.grams[at - 1]
        slot = (slot + 1) & table.mask


cdef class _Field:
    """One field's tokens, with each word's number and the flags the loop reads."""

    cdef list tokens
    cdef int count
    cdef int *ids
    cdef char *flags

    def __dealloc__(self):
        free(self.ids)
        free(self.flags)


# a token's flags, packed in a byte for the loop
cdef enum:
    BREAKER = 1
    GENERIC = 2
    NAMED = 4
    START = 8
    CONTINUE = 16


cdef _Field _read_field(list tokens, dict numbers):
    cdef _Field field = _Field.__new__(_Field)
    cdef Py_ssize_t i, count = len(tokens)
    cdef tuple token
    cdef object word
    cdef PyObject *number
    cdef char flags
    field.tokens = tokens
    field.count = <int>count
    field.ids = <int *>malloc((count + 1) * sizeof(int))
    field.flags = <char *>malloc(count + 1)
    if field.ids == NULL or field.flags == NULL:
        raise MemoryError()
    for i in range(count):
        token = <tuple>tokens[i]
        word = token[WORD]
        number = PyDict_GetItem(numbers, word)
        if number == NULL:
            field.ids[i] = <int>len(numbers)
            PyDict_SetItem(numbers, word, len(numbers))
        else:
            field.ids[i] = <int><object>number
        flags = 0
        if token[IS_BREAKER]:
            flags |= BREAKER
        if token[IS_GENERIC]:
            flags |= GENERIC
        if token[IS_NAMED]:
            flags |= NAMED
        if token[MAY_START]:
            flags |= START
        if token[MAY_CONTINUE]:
            flags |= CONTINUE
        field.flags[i] = flags
    return field


cdef void _count(
    Table *table, _Field field, int which, int i, int word_count, bint of_form,
    bint all_generic, bint is_named
):
    cdef int ids[3]
    cdef int k
    cdef bint added
    cdef int rank
    cdef Gram *gram
    ids[0] = field.ids[i]
    ids[1] = field.ids[i + 1] if word_count > 1 else NO_WORD
    ids[2] = field.ids[i + 2] if word_count > 2 else NO_WORD
    gram = _find_or_add(table, ids, &added)
    if added:
        gram.word_count = word_count
        gram.of_form = of_form
        gram.all_generic = all_generic
        gram.is_named = is_named
        gram.dominated = False
        gram.occurrences[0] = 0
        gram.occurrences[1] = 0
        gram.shown_rank = -1
        for k in range(3):
            gram.words[k] = (
                <PyObject *>(<tuple>field.tokens[i + k])[WORD] if k < word_count else NULL
            )
    else:
        gram.all_generic = gram.all_generic and all_generic
        gram.is_named = gram.is_named or is_named
    gram.occurrences[which] += 1
    if gram.shown_rank != MID_SENTENCE:
        if which == 0:
            rank = IN_THE_TITLE
        elif i == 0 or (<tuple>field.tokens[i - 1])[WRITTEN] == "|":
            rank = SENTENCE_START
        else:
            rank = MID_SENTENCE
        if gram.shown_rank == -1 or rank < gram.shown_rank:
            gram.shown_rank = rank
            gram.shown_field = IN_TITLE if which == 0 else IN_ABSTRACT
            gram.shown_start = i


cdef void _count_field(Table *table, _Field field, int which, int of, frozenset not_of_heads):
    cdef int i, count = field.count
    cdef char one, two, three
    for i in range(count):
        one = field.flags[i]
        if one & BREAKER:
            continue
        if one & CONTINUE:
            _count(table, field, which, i, 1, False, one & GENERIC, one & NAMED)
        if i + 1 >= count:
            continue
        two = field.flags[i + 1]
        if not two & BREAKER:
            if not (one & START and two & CONTINUE):
                continue
            _count(
                table, field, which, i, 2, False,
                one & two & GENERIC, (one | two) & NAMED,
            )
            if i + 2 < count:
                three = field.flags[i + 2]
                if not three & BREAKER and three & CONTINUE:
                    _count(
                        table, field, which, i, 3, False,
                        one & two & three & GENERIC, (one | two | three) & NAMED,
                    )
        elif (
            field.ids[i + 1] == of
            and i + 2 < count
            and not field.flags[i + 2] & BREAKER
            and (i == 0 or field.flags[i - 1] & BREAKER)
            and (i + 3 >= count or field.flags[i + 3] & BREAKER)
            and (<tuple>field.tokens[i])[WORD] not in not_of_heads
        ):
            three = field.flags[i + 2]
            _count(
                table, field, which, i, 3, True,
                (one | three) & GENERIC != 0, (one | three) & NAMED,
            )


cdef bint _dominates(
    Gram *longer, Gram *shorter, bint head, frozenset generic_words, object is_adjective
):
    """Whether `longer`, which holds `shorter` as its first (head) or last words, takes its
    place: extract._dominated for one pair."""
    if (
        longer.occurrences[0] + longer.occurrences[1]
        < shorter.occurrences[0] + shorter.occurrences[1]
    ):
        return False
    if not head or shorter.word_count == 1:
        return True
    if <object>longer.words[longer.word_count - 1] not in generic_words:
        return True
    return is_adjective(<object>shorter.words[shorter.word_count - 1])


def phrase_counts(
    list title_tokens,
    list abstract_tokens,
    frozenset generic_words,
    frozenset not_of_heads,
    object singular,
    object is_adjective,
):
    """extract._phrase_counts from the two fields' tokens: {phrase: [word count, is named,
    title occurrences, abstract occurrences, (rank, field, index) of its written form]}."""
    cdef dict numbers = {"of": 0}
    cdef _Field title = _read_field(title_tokens, numbers)
    cdef _Field abstract = _read_field(abstract_tokens, numbers)
    # a token opens at most three grams (one to three words, or one and `X of Y`)
    cdef Py_ssize_t most = 3 * (title.count + abstract.count) + 1
    cdef uint64_t size = 1
    while size < <uint64_t>(2 * most):
        size <<= 1
    cdef Table table
    table.count = 0
    table.mask = size - 1
    table.grams = <Gram *>malloc(most * sizeof(Gram))
    table.slots = <int *>calloc(size, sizeof(int))
    cdef Gram *gram
    cdef Gram *part
    cdef Gram *head
    cdef int n, k
    cdef int ids[3]
    cdef dict found = {}
    cdef list counts
    cdef object phrase
    try:
        if table.grams == NULL or table.slots == NULL:
            raise MemoryError()
        _count_field(&table, title, 0, 0, not_of_heads)
        _count_field(&table, abstract, 1, 0, not_of_heads)

        # a gram gives way to a longer one that holds it and occurs as often (extract._dominated)
        for n in range(table.count):
            gram = &table.grams[n]
            if gram.word_count == 1:
                continue
            ids[0] = gram.ids[0]
            ids[1] = gram.ids[1] if gram.word_count == 3 else NO_WORD
            ids[2] = NO_WORD
            part = _find(&table, ids)
            if part != NULL and not part.dominated:
                part.dominated = _dominates(gram, part, True, generic_words, is_adjective)
            ids[0] = gram.ids[1]
            ids[1] = gram.ids[2] if gram.word_count == 3 else NO_WORD
            head = part
            part = _find(&table, ids)
            if part != NULL and part != head and not part.dominated:
                part.dominated = _dominates(gram, part, False, generic_words, is_adjective)

        for n in range(table.count):
            gram = &table.grams[n]
            if gram.all_generic or gram.dominated:
                continue
            phrase = _phrase(gram, singular)
            shown_at = (gram.shown_rank, gram.shown_field, gram.shown_start)
            counts = found.get(phrase)
            if counts is None:
                found[phrase] = [
                    gram.word_count,
                    gram.is_named,
                    gram.occurrences[0],
                    gram.occurrences[1],
                    shown_at,
                ]
            else:
                counts[0] = max(counts[0], gram.word_count)
                counts[1] = counts[1] or gram.is_named
                counts[2] += gram.occurrences[0]
                counts[3] += gram.occurrences[1]
                counts[4] = min(counts[4], shown_at)
        return found
    finally:
        free(table.grams)
        free(table.slots)


cdef object _phrase(Gram *gram, object singular):
    cdef list words = [<object>gram.words[k] for k in range(gram.word_count)]
    if not gram.of_form:
        words[gram.word_count - 1] = singular(words[gram.word_count - 1])
    return " ".join(words)

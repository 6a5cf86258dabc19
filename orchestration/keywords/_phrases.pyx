# cython: language_level=3, boundscheck=False, wraparound=False, initializedcheck=False
"""The keyphrase rule's inner loops compiled: extract._phrase_counts (counting the
candidates), extract._ranked_in_python (scoring and ranking them), extract.display_form
and the tokenizing: breaking a text into words and looking each up in the token cache,
which is this module's own (TokenCache); and the ranked keyphrases written as the
features table stores them (copy_format).

The Python functions are the reference; property tests hold the two equal on
any text. They stay the rule's readable statement, and what runs where this
module is not built (`make` builds it with orchestration.compiled).

What makes this fast is not the compiler alone (the Python, compiled as it
stands, runs about a tenth faster) but the representation: a gram is the
addresses of its words, counted in a C hash table, and a phrase's string is made
only for the few dozen candidates that survive, not for each of the hundred
or so gram occurrences a listing has. A word's address is its identity because
extract._token interns every word: equal words are one object, and the tokens
hold them alive for the whole call, so no dict has to number them. The counts of
the candidates that survive stay C structures until they are ranked, and a word
seen before is found in the token cache where it stands in the text, its string
never made.
"""

from cpython.dict cimport PyDict_GetItem, PyDict_SetItem
from cpython.object cimport PyObject, PyObject_Hash
from cpython.ref cimport Py_DECREF, Py_INCREF
from cpython.unicode cimport (
    Py_UNICODE_ISSPACE,
    PyUnicode_DATA,
    PyUnicode_GET_LENGTH,
    PyUnicode_KIND,
    PyUnicode_READ,
    PyUnicode_Substring,
)
from libc.stdint cimport uint64_t, uintptr_t
from libc.stdlib cimport calloc, free, malloc, qsort
from libc.string cimport memcmp

cdef extern from *:
    const char *PAPERHOUSE_SOURCE_DIGEST  # defined by orchestration.compiled

# the sha256 of this file when it was compiled (extract runs no stale build)
SOURCE_DIGEST = PAPERHOUSE_SOURCE_DIGEST.decode()

# as in extract.py: _Token's fields, the two fields' codes, the ranks of a written form
cdef enum:
    WORD = 0
    IS_BREAKER = 1
    IS_GENERIC = 2
    IS_NAMED = 3
    WRITTEN = 4
    MAY_START = 5
    MAY_CONTINUE = 6
    SINGULAR = 7
    IN_TITLE = 4
    IN_ABSTRACT = 5
    MID_SENTENCE = 0
    IN_THE_TITLE = 1
    SENTENCE_START = 2
    NO_WORD = 0  # no word's address


cdef extern from "Python.h":
    bint PyUnicode_CHECK_INTERNED(object text)

# `of`, interned as the tokens' words are, and its address, which the module's reference keeps
cdef str OF_WORD = intern("of")
cdef uintptr_t OF = <uintptr_t><PyObject *>OF_WORD


cdef struct Gram:
    uintptr_t ids[3]  # the words' addresses, NO_WORD past word_count
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
    PyObject *last_singular  # the last word's singular, borrowed from its token too


cdef struct Table:
    Gram *grams  # in the order of first occurrence, as the reference's dict
    int count
    int *slots  # open addressing: index into grams + 1, 0 for an empty slot
    uint64_t mask


cdef inline uint64_t _hash(const uintptr_t *ids) noexcept nogil:
    cdef uint64_t h = 0x9E3779B97F4A7C15ULL
    cdef int k
    for k in range(3):
        h = (h ^ <uint64_t>ids[k]) * 0xBF58476D1CE4E5B9ULL
        h ^= h >> 31
    return h


cdef inline bint _same(const uintptr_t *a, const uintptr_t *b) noexcept nogil:
    return a[0] == b[0] and a[1] == b[1] and a[2] == b[2]


cdef Gram *_find(Table *table, const uintptr_t *ids) noexcept nogil:
    cdef uint64_t slot = _hash(ids) & table.mask
    cdef int at
    while True:
        at = table.slots[slot]
        if at == 0:
            return NULL
        if _same(table.grams[at - 1].ids, ids):
            return &table.grams[at - 1]
        slot = (slot + 1) & table.mask


cdef Gram *_find_or_add(Table *table, const uintptr_t *ids, bint *added) noexcept nogil:
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
    """One field's tokens, with each word's address and the flags the loop reads."""

    cdef list tokens
    cdef int count
    cdef uintptr_t *ids
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


cdef _Field _read_field(list tokens):
    cdef _Field field = _Field.__new__(_Field)
    cdef Py_ssize_t i, count = len(tokens)
    cdef tuple token
    cdef object word
    cdef char flags
    field.tokens = tokens
    field.count = <int>count
    field.ids = <uintptr_t *>malloc((count + 1) * sizeof(uintptr_t))
    field.flags = <char *>malloc(count + 1)
    if field.ids == NULL or field.flags == NULL:
        raise MemoryError()
    for i in range(count):
        token = <tuple>tokens[i]
        word = token[WORD]
        if not PyUnicode_CHECK_INTERNED(word):
            # two equal words of two addresses would be counted as two grams
            raise ValueError(f"a token's word is not interned: {word!r}")
        field.ids[i] = <uintptr_t><PyObject *>word
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
    cdef uintptr_t ids[3]
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
        gram.last_singular = <PyObject *>(<tuple>field.tokens[i + word_count - 1])[SINGULAR]
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


cdef void _count_field(Table *table, _Field field, int which, frozenset not_of_heads):
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
            field.ids[i + 1] == OF
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
    Gram *longer, Gram *shorter, bint head, frozenset generic_words, tuple adjective_endings
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
    return (<str>shorter.words[shorter.word_count - 1]).endswith(adjective_endings)


cdef struct Counts:
    # a phrase's counts: extract._phrase_counts' list, in C
    int word_count
    bint is_named
    int occurrences[2]  # title, abstract
    int shown_rank
    int shown_field
    int shown_start


cdef class _Candidates:
    """A paper's candidate phrases, in the order of first occurrence, and their counts (two
    grams may make one phrase: model, models); what extract._phrase_counts gives, kept in C
    for the ranking rather than made into a list per phrase and read back."""

    cdef list phrases
    cdef Counts *counts
    cdef Py_ssize_t count

    def __dealloc__(self):
        free(self.counts)


cdef _Candidates _candidates(
    list title_tokens,
    list abstract_tokens,
    frozenset generic_words,
    frozenset not_of_heads,
    tuple adjective_endings,
):
    cdef _Field title = _read_field(title_tokens)
    cdef _Field abstract = _read_field(abstract_tokens)
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
    cdef int n
    cdef uintptr_t ids[3]
    cdef _Candidates found = _Candidates.__new__(_Candidates)
    cdef dict index_of = {}
    cdef PyObject *at
    cdef Counts *counts
    cdef object phrase
    try:
        if table.grams == NULL or table.slots == NULL:
            raise MemoryError()
        _count_field(&table, title, 0, not_of_heads)
        _count_field(&table, abstract, 1, not_of_heads)

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
                part.dominated = _dominates(gram, part, True, generic_words, adjective_endings)
            ids[0] = gram.ids[1]
            ids[1] = gram.ids[2] if gram.word_count == 3 else NO_WORD
            head = part
            part = _find(&table, ids)
            if part != NULL and part != head and not part.dominated:
                part.dominated = _dominates(gram, part, False, generic_words, adjective_endings)

        found.phrases = []
        found.count = 0
        found.counts = <Counts *>malloc((table.count + 1) * sizeof(Counts))
        if found.counts == NULL:
            raise MemoryError()
        for n in range(table.count):
            gram = &table.grams[n]
            if gram.all_generic or gram.dominated:
                continue
            phrase = _phrase(gram)
            at = PyDict_GetItem(index_of, phrase)
            if at == NULL:
                PyDict_SetItem(index_of, phrase, found.count)
                found.phrases.append(phrase)
                counts = &found.counts[found.count]
                found.count += 1
                counts.word_count = gram.word_count
                counts.is_named = gram.is_named
                counts.occurrences[0] = gram.occurrences[0]
                counts.occurrences[1] = gram.occurrences[1]
                counts.shown_rank = gram.shown_rank
                counts.shown_field = gram.shown_field
                counts.shown_start = gram.shown_start
            else:
                counts = &found.counts[<Py_ssize_t><object>at]
                counts.word_count = max(counts.word_count, gram.word_count)
                counts.is_named = counts.is_named or gram.is_named
                counts.occurrences[0] += gram.occurrences[0]
                counts.occurrences[1] += gram.occurrences[1]
                # the earlier (rank, field, index), as the reference's min() of tuples
                if (gram.shown_rank, gram.shown_field, gram.shown_start) < (
                    counts.shown_rank, counts.shown_field, counts.shown_start
                ):
                    counts.shown_rank = gram.shown_rank
                    counts.shown_field = gram.shown_field
                    counts.shown_start = gram.shown_start
        return found
    finally:
        free(table.grams)
        free(table.slots)


cdef inline tuple _shown_at(Counts *counts):
    return (counts.shown_rank, counts.shown_field, counts.shown_start)


def phrase_counts(
    list title_tokens,
    list abstract_tokens,
    frozenset generic_words,
    frozenset not_of_heads,
    tuple adjective_endings,
):
    """extract._phrase_counts from the two fields' tokens: {phrase: [word count, is named,
    title occurrences, abstract occurrences, (rank, field, index) of its written form]}."""
    cdef _Candidates found = _candidates(
        title_tokens, abstract_tokens, generic_words, not_of_heads, adjective_endings
    )
    cdef Counts *counts
    cdef Py_ssize_t k
    cdef dict by_phrase = {}
    for k in range(found.count):
        counts = &found.counts[k]
        by_phrase[found.phrases[k]] = [
            counts.word_count,
            counts.is_named,
            counts.occurrences[0],
            counts.occurrences[1],
            _shown_at(counts),
        ]
    return by_phrase


cdef object _phrase(Gram *gram):
    # the words, the last one singular but in `X of Y`; a lone word needs no join
    cdef object last = <object>(gram.words[2] if gram.of_form else gram.last_singular)
    if gram.word_count == 1:
        return last
    if gram.word_count == 2:
        return u" ".join((<object>gram.words[0], last))
    return u" ".join((<object>gram.words[0], <object>gram.words[1], last))


cdef struct Scored:
    double score
    Py_ssize_t index


cdef int _by_score_descending(const void *a, const void *b) noexcept nogil:
    cdef double x = (<Scored *>a).score
    cdef double y = (<Scored *>b).score
    return (x < y) - (x > y)


cdef bint _verb_led(str phrase):
    """extract.VERB_LED.match(phrase): the first word, all of a-z and hyphens, ends in
    `ing` after at least one more character, and a space follows it."""
    cdef Py_ssize_t k, space = -1
    cdef Py_UCS4 c
    for k in range(len(phrase)):
        c = phrase[k]
        if c == u" ":
            space = k
            break
        if not (u"a" <= c <= u"z" or c == u"-"):
            return False
    return (
        space >= 4
        and phrase[space - 3] == u"i"
        and phrase[space - 2] == u"n"
        and phrase[space - 1] == u"g"
    )


def verb_led(str phrase):
    """_verb_led, for the test that holds it to the regular expression it replaces."""
    return _verb_led(phrase)


def ranked(
    list title_tokens,
    list abstract_tokens,
    object name,
    frozenset generic_words,
    frozenset not_of_heads,
    tuple adjective_endings,
    dict idf_by_phrase,
    double unseen_idf,
    tuple weights,
    Py_ssize_t limit,
):
    """extract._ranked_in_python of extract._phrase_counts of the two fields' tokens: the
    `limit` best candidates, best first, as (-score, phrase, title occurrences, abstract
    occurrences, where it is written).

    The reference's terms (vocabulary.document_frequency) are the keys of `idf_by_phrase`,
    made from it: one lookup of a phrase there tells both its idf and whether it is a term.

    The scores are computed as the reference computes them, the same operations in the
    same order, so they come out the same to the last bit. Python's round(score, 4) is
    the costly step, and only the best few need it: rounding never reorders two scores
    (it may only make them equal), so walking the scores from the highest, the first
    `limit` and any that round to the same value as the last of them are all the
    candidates the reference's full sort can put first.
    """
    cdef double title_weight, length_boost, name_boost, unigram_weight, adjective_weight
    cdef double of_weight, verb_led_weight, title_name_boost, term_boost
    (
        title_weight, length_boost, name_boost, unigram_weight, adjective_weight,
        of_weight, verb_led_weight, title_name_boost, term_boost,
    ) = weights
    cdef _Candidates candidates = _candidates(
        title_tokens, abstract_tokens, generic_words, not_of_heads, adjective_endings
    )
    cdef list phrases = candidates.phrases
    cdef Py_ssize_t n = candidates.count, i
    cdef dict heads = {}
    cdef str phrase, head, last
    cdef Counts *counts
    cdef int word_count, in_title, in_abstract
    cdef double form, idf, score
    cdef object found
    cdef bint is_term

    # extract._generic_tail_heads
    for i in range(n):
        phrase = <str>phrases[i]
        counts = &candidates.counts[i]
        if counts.word_count > 2 and u" of " not in phrase:
            head, _, last = phrase.rpartition(u" ")
            if last in generic_words:
                heads[head] = max(
                    heads.get(head, 0), counts.occurrences[0] + counts.occurrences[1]
                )

    cdef Scored *scored = <Scored *>malloc((n + 1) * sizeof(Scored))
    if scored == NULL:
        raise MemoryError()
    cdef list best = []
    cdef object rounded, cutoff = None
    try:
        for i in range(n):
            phrase = <str>phrases[i]
            counts = &candidates.counts[i]
            word_count = counts.word_count
            in_title = counts.occurrences[0]
            in_abstract = counts.occurrences[1]
            found = idf_by_phrase.get(phrase)
            is_term = (
                word_count > 1
                and found is not None
                and heads.get(phrase, 0) < in_title + in_abstract
            )
            idf = unseen_idf if found is None else <double>found
            if counts.is_named:
                form = name_boost
            elif word_count == 1:
                form = adjective_weight if phrase.endswith(adjective_endings) else unigram_weight
            elif u" of " in phrase:
                form = of_weight
            elif _verb_led(phrase):
                form = verb_led_weight
            else:
                form = 1.0
            score = (in_abstract + title_weight * in_title) * idf
            score = score * (1.0 + length_boost * (word_count - 1))
            score = score * form
            score = score * (title_name_boost if phrase == name else 1.0)
            score = score * (term_boost if is_term else 1.0)
            scored[i].score = score
            scored[i].index = i
        qsort(scored, n, sizeof(Scored), _by_score_descending)
        for i in range(n):
            rounded = round(<object>scored[i].score, 4)
            if 0 < limit <= len(best) and rounded < cutoff:
                break
            counts = &candidates.counts[scored[i].index]
            best.append(
                (
                    -rounded,
                    phrases[scored[i].index],
                    counts.occurrences[0],
                    counts.occurrences[1],
                    _shown_at(counts),
                )
            )
            if len(best) == limit:
                cutoff = rounded
    finally:
        free(scored)
    best.sort()
    return best[:limit]


def keywords_of(
    list best, list title_tokens, list abstract_tokens, object name, type Keyword
):
    """The Keyword of each of `best` (ranked), its display form read as extract.display_form
    reads it: the reference for everything below."""
    cdef list found = []
    cdef Py_ssize_t rank
    cdef tuple chosen
    for rank in range(len(best)):
        chosen = <tuple>best[rank]
        negative_score, phrase, in_title, in_abstract, shown_at = chosen
        found.append(
            Keyword(
                phrase,
                -negative_score,
                rank + 1,
                in_title > 0,
                in_title + in_abstract,
                _display_form(
                    phrase, shown_at, title_tokens, abstract_tokens, name
                ),
            )
        )
    return found


def keyword_arrays(list best, list title_tokens, list abstract_tokens, object name):
    """copy_format.arrays_of(keywords_of(best, ...)): the five arrays of `best` (ranked) in
    COPY's text format, made without the Keyword tuples in between."""
    cdef Py_ssize_t rank, count = len(best)
    cdef list keys = [], scores = [], in_titles = [], occurrences = [], displays = []
    cdef tuple chosen
    for rank in range(count):
        chosen = <tuple>best[rank]
        negative_score, phrase, in_title, in_abstract, shown_at = chosen
        keys.append(phrase)
        scores.append(repr(-negative_score))
        in_titles.append(u"t" if in_title > 0 else u"f")
        occurrences.append(str(in_title + in_abstract))
        displays.append(
            _display_form(phrase, shown_at, title_tokens, abstract_tokens, name)
        )
    return u"\t".join(
        (
            _text_array(keys),
            u"{" + u",".join(scores) + u"}",
            u"{" + u",".join(in_titles) + u"}",
            u"{" + u",".join(occurrences) + u"}",
            _text_array(displays),
        )
    )


cdef str _text_array(list items):
    # copy_format._text_array
    cdef Py_ssize_t k, count = len(items)
    if count == 0:
        return u"{}"
    for k in range(count):
        if _needs_escape(<str>items[k]):
            break
    else:
        return u'{"' + u'","'.join(items) + u'"}'
    cdef list quoted = [
        (<str>item).replace(u"\\", u"\\\\").replace(u'"', u'\\"') for item in items
    ]
    return (
        (u'{"' + u'","'.join(quoted) + u'"}')
        .replace(u"\\", u"\\\\")
        .replace(u"\t", u"\\t")
        .replace(u"\n", u"\\n")
        .replace(u"\r", u"\\r")
    )


cdef inline bint _needs_escape(str item):
    # copy_format.NEEDS_ESCAPE
    cdef Py_UCS4 c
    for c in item:
        if c == u'"' or c == u'\\' or c == u'\t' or c == u'\n' or c == u'\r':
            return True
    return False


cdef str _display_form(
    str phrase, tuple shown_at, list title_tokens, list abstract_tokens, object name
):
    cdef int rank = shown_at[0]
    cdef int field = shown_at[1]
    cdef Py_ssize_t start = shown_at[2]
    cdef bint is_name = phrase == name
    if is_name and rank == SENTENCE_START:
        rank, field, start = IN_THE_TITLE, IN_TITLE, 0
    cdef object written = _written_at(
        phrase.split(u" "), title_tokens if field == IN_TITLE else abstract_tokens, start
    )
    if written is None:
        return phrase
    if is_name:
        return written
    if rank == IN_THE_TITLE:
        return u" ".join([_untitled(word) for word in (<str>written).split(u" ")])
    if rank == SENTENCE_START:
        first, _, rest = (<str>written).partition(u" ")
        return f"{_untitled(first)} {rest}" if rest else _untitled(first)
    return written


cdef object _written_at(list words, list tokens, Py_ssize_t start):
    cdef Py_ssize_t count = len(words), offset
    cdef tuple token
    cdef str word, text
    cdef bint last
    if start + count > len(tokens):
        return None
    cdef list written = []
    for offset in range(count):
        word = <str>words[offset]
        token = <tuple>tokens[start + offset]
        if token[IS_BREAKER] and word != u"of":
            return None
        last = offset == count - 1
        if token[WORD] != word and not (last and token[SINGULAR] == word):
            return None
        text = <str>token[WRITTEN]
        if last and token[WORD] != word:
            text = text[: len(word)] if text.lower().startswith(word) else word
        written.append(text)
    return u" ".join(written)


cdef str _untitled(str word):
    cdef list parts = word.split(u"-")
    cdef Py_ssize_t k
    if not _capitalized(<str>parts[0]):
        return word
    for k in range(1, len(parts)):
        if not (_capitalized(<str>parts[k]) or (<str>parts[k]).islower()):
            return word
    return word.lower()


cdef bint _capitalized(str part):
    return part[:1].isupper() and (len(part) == 1 or part[1:].islower())


# what ends a word in _pieces: white space, or one of extract.BREAKERS' matches
cdef enum:
    WHITE_SPACE = 1
    BREAK = 2


cdef inline bint _breaks(Py_UCS4 c) noexcept:
    # extract.BREAK_CHARACTERS
    return c in u',;:!?()[]{}"“”‘’«»|<>=*#@~^&%$/\\–—'


cdef inline bint _is_dash(Py_UCS4 c) noexcept:
    return c == u"-" or c == u"–" or c == u"—"


cdef list _pieces(str text, TokenCache cache=None, object make=None, object vocabulary=None):
    """extract._split_at_spaces(extract._break_phrases(text)): the words and breaks (`|`) of
    a text, in one pass over its characters rather than three passes of regular expressions
    and a split, each of which copies the text; with a `cache`, each piece's token instead
    (TokenCache.token_of_span).

    It reads the text as extract.BREAKERS.sub does, left to right, a match consuming
    what it matched: a breaking character, a period before white space or the end (and
    that white space), white space, dashes and white space (all three). So in
    `end. - next` the period takes the space the dash would need, and the dash stands
    as a word. Any white space, and a break, ends a word; the text's first and last
    pieces are empty where it opens or ends with either, as re.split's are.
    """
    cdef Py_ssize_t n = len(text), i = 0, j, start = 0, width
    # the characters read in place, as str's own methods read them
    cdef unsigned int text_kind = PyUnicode_KIND(text)
    cdef void *characters = PyUnicode_DATA(text)
    cdef list pieces = []
    cdef Py_UCS4 c
    cdef int kind
    cdef bint in_word = False
    cdef object empty = u"" if cache is None else cache.token_of(u"", make, vocabulary)
    cdef object breaker = u"|" if cache is None else cache.token_of(u"|", make, vocabulary)
    if n == 0:
        return [empty]
    while i < n:
        c = PyUnicode_READ(text_kind, characters, i)
        if _breaks(c):
            kind, width = BREAK, 1
        elif c == u"." and (
            i + 1 == n or Py_UNICODE_ISSPACE(PyUnicode_READ(text_kind, characters, i + 1))
        ):
            kind, width = BREAK, (1 if i + 1 == n else 2)
        elif Py_UNICODE_ISSPACE(c):
            j = i + 1
            while j < n and _is_dash(PyUnicode_READ(text_kind, characters, j)):
                j += 1
            if j > i + 1 and j < n and Py_UNICODE_ISSPACE(PyUnicode_READ(text_kind, characters, j)):
                kind, width = BREAK, j + 1 - i
            else:
                kind, width = WHITE_SPACE, 1
        else:
            if not in_word:
                start = i
                in_word = True
            i += 1
            continue
        if in_word:
            pieces.append(_piece(text, start, i, cache, make, vocabulary))
            in_word = False
        elif i == 0:
            pieces.append(empty)
        if kind == BREAK:
            pieces.append(breaker)
        i += width
    pieces.append(_piece(text, start, n, cache, make, vocabulary) if in_word else empty)
    return pieces


cdef inline object _piece(
    str text, Py_ssize_t start, Py_ssize_t end, TokenCache cache, object make, object vocabulary
):
    if cache is None:
        return PyUnicode_Substring(text, start, end)
    return cache.token_of_span(text, start, end, make, vocabulary)


def pieces(str text):
    """_pieces, for the tests that hold it to the Python it replaces."""
    return _pieces(text)


def tokens(str text, TokenCache cache not None, object make, object vocabulary):
    """extract._tokens after folding: each piece's token (_pieces) from `cache`, or
    `make(piece, vocabulary)` for a piece not seen before, which `cache` then keeps."""
    return _pieces(text, cache, make, vocabulary)


cdef extern from "Python.h":
    # str's own hash of its characters (unicode_hash): a word's hash where it stands in a text
    Py_hash_t _Py_HashBytes(const void *data, Py_ssize_t size)


cdef struct CacheSlot:
    Py_hash_t hash
    PyObject *piece  # owned; NULL for an empty slot
    PyObject *token  # owned


cdef class TokenCache:
    """extract's token cache (piece -> token) where the rule is compiled: a dict's mapping, whose
    lookup also takes a piece where it stands in a text (token_of_span), hashed and compared
    in place, so a word seen before costs no string.

    By hand because a dict needs a key object to compare with, and making one per word
    of every text was a third of the tokenizing. The hash is str's own (siphash, keyed
    per process), as a dict's is, so crafted words collide no more here than there. A
    piece is kept as str keeps it, in the narrowest of its kinds (1, 2 or 4 bytes a
    character); a span is looked up in place when the text's characters are one byte
    each, as that is then the piece's own form, else through the piece made from it.
    """

    cdef CacheSlot *slots
    cdef Py_ssize_t mask  # the slots' count, a power of two, less one
    cdef Py_ssize_t used

    def __cinit__(self):
        self.slots = _empty_slots(FIRST_SLOTS)
        self.mask = FIRST_SLOTS - 1

    def __dealloc__(self):
        self._release()
        free(self.slots)

    cdef void _release(self):
        cdef Py_ssize_t k
        if self.slots == NULL:
            return
        for k in range(self.mask + 1):
            if self.slots[k].piece != NULL:
                Py_DECREF(<object>self.slots[k].piece)
                Py_DECREF(<object>self.slots[k].token)
                self.slots[k].piece = NULL
                self.slots[k].token = NULL

    cdef CacheSlot *_slot_of_bytes(self, Py_hash_t data_hash, const char *data, Py_ssize_t length):
        # the slot of the one-byte-a-character piece `data`, or the empty slot it would take
        cdef Py_ssize_t k = <Py_ssize_t>(<size_t>data_hash & <size_t>self.mask)
        cdef CacheSlot *slot
        cdef object piece
        while True:
            slot = &self.slots[k]
            if slot.piece == NULL:
                return slot
            if slot.hash == data_hash:
                piece = <object>slot.piece
                if (
                    PyUnicode_KIND(piece) == 1
                    and PyUnicode_GET_LENGTH(piece) == length
                    and memcmp(PyUnicode_DATA(piece), data, length) == 0
                ):
                    return slot
            k = (k + 1) & self.mask

    cdef CacheSlot *_slot_of(self, str piece):
        # the slot of `piece`, or the empty slot it would take
        cdef Py_hash_t piece_hash = PyObject_Hash(piece)
        cdef Py_ssize_t k = <Py_ssize_t>(<size_t>piece_hash & <size_t>self.mask)
        cdef CacheSlot *slot
        while True:
            slot = &self.slots[k]
            if slot.piece == NULL or (slot.hash == piece_hash and <str>slot.piece == piece):
                return slot
            k = (k + 1) & self.mask

    cdef object _keep(self, CacheSlot *slot, str piece, object token):
        # `token` into the empty `slot` found for `piece`, growing the table past half full
        Py_INCREF(piece)
        Py_INCREF(token)
        slot.hash = PyObject_Hash(piece)
        slot.piece = <PyObject *>piece
        slot.token = <PyObject *>token
        self.used += 1
        if 2 * self.used > self.mask + 1:
            self._grow()
        return token

    cdef int _grow(self) except -1:
        cdef CacheSlot *old = self.slots
        cdef Py_ssize_t k, at, count = self.mask + 1
        self.slots = _empty_slots(2 * count)
        self.mask = 2 * count - 1
        for k in range(count):
            if old[k].piece != NULL:
                at = <Py_ssize_t>(<size_t>old[k].hash & <size_t>self.mask)
                while self.slots[at].piece != NULL:
                    at = (at + 1) & self.mask
                self.slots[at] = old[k]
        free(old)
        return 0

    cdef object token_of_span(
        self, str text, Py_ssize_t start, Py_ssize_t end, object make, object vocabulary
    ):
        """The token of text[start:end]: kept, or made by `make(piece, vocabulary)` and kept."""
        cdef const char *data
        cdef CacheSlot *slot
        if PyUnicode_KIND(text) == 1:
            data = <const char *>PyUnicode_DATA(text) + start
            slot = self._slot_of_bytes(_Py_HashBytes(data, end - start), data, end - start)
            if slot.piece != NULL:
                return <object>slot.token
        return self.token_of(PyUnicode_Substring(text, start, end), make, vocabulary)

    cdef object token_of(self, str piece, object make, object vocabulary):
        """The token of `piece`: kept, or made by `make(piece, vocabulary)` and kept."""
        cdef CacheSlot *slot = self._slot_of(piece)
        if slot.piece != NULL:
            return <object>slot.token
        token = make(piece, vocabulary)
        # `make` runs Python, in which another thread of this process may have kept tokens
        # (the vocabulary, and its cache, are one per process), this one's among them: the
        # slot is looked for again, and a token kept meanwhile is the one returned
        slot = self._slot_of(piece)
        if slot.piece != NULL:
            return <object>slot.token
        return self._keep(slot, piece, token)

    # the mapping extract's Python rule reads and writes (cache.get, cache[piece] = token)

    def __len__(self):
        return self.used

    def __contains__(self, str piece):
        return self._slot_of(piece).piece != NULL

    def __getitem__(self, str piece):
        cdef CacheSlot *slot = self._slot_of(piece)
        if slot.piece == NULL:
            raise KeyError(piece)
        return <object>slot.token

    def get(self, str piece, default=None):
        cdef CacheSlot *slot = self._slot_of(piece)
        return default if slot.piece == NULL else <object>slot.token

    def __setitem__(self, str piece, token):
        cdef CacheSlot *slot = self._slot_of(piece)
        cdef PyObject *old
        if slot.piece == NULL:
            self._keep(slot, piece, token)
        else:
            old = slot.token
            Py_INCREF(token)
            slot.token = <PyObject *>token
            Py_DECREF(<object>old)

    def clear(self):
        """Drop every token, and the table's memory with them."""
        # the new table first: a cache that cannot have one stays as it was, whole
        cdef CacheSlot *fresh = _empty_slots(FIRST_SLOTS)
        self._release()
        free(self.slots)
        self.slots = fresh
        self.mask = FIRST_SLOTS - 1
        self.used = 0


# a new or cleared cache's slots
cdef Py_ssize_t FIRST_SLOTS = 1024


cdef CacheSlot *_empty_slots(Py_ssize_t count) except NULL:
    cdef CacheSlot *slots = <CacheSlot *>calloc(count, sizeof(CacheSlot))
    if slots == NULL:
        raise MemoryError()
    return slots

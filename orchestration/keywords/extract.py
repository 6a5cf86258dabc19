"""The keyphrase rule, RAKE-like, as pure functions: a title and an abstract in, scored phrases out.

1. fold the text (NFKC, accents) and cut it into fragments at punctuation,
   URLs and dashes: a phrase never crosses a comma or a period;
2. split fragments into words; a function word, a number or a symbol ends a
   run of content words; a word an English lexicon knows only as a verb
   stands in no phrase but as a gerund or, first, a participle;
3. every 1-3 word sequence inside a run is a candidate, except one made only
   of generic research words (model, method, ...); so is `X of Y` where X and
   Y are one-word runs (mixture of experts);
4. a candidate that only ever occurs inside one longer candidate (`state
   space` inside `state space model`) gives way to it;
5. score = (abstract occurrences + title weight x title occurrences)
           x idf x (1 + length boost x (words - 1)) x form weight
           (x the title-name boost for the name before a title's colon)
           (x the term boost for a phrase of 2-3 words other papers use too),
   idf = ln((N + 1) / (df + 1)) + 1 with df and N from the reference corpus;
6. the best ten get their display form: as the paper writes them.

This runs once per listing, rather than in SQL at build time: the SQL
version cut every abstract into one row per word and cost about 4 ms per
paper in PostgreSQL, an hour per million papers; here it is a fraction of a
millisecond and its result is stored (see orchestration.features).

The Python below states the rule. Its inner loops (cutting a text into words
and looking them up in the token cache, counting the candidates, ranking them,
reading their display forms) also run compiled, from _phrases.pyx, where `make`
has built it (orchestration.compiled); the tests hold the two to the same results.
"""

from __future__ import annotations

import re
import sys
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import NamedTuple

from orchestration import compiled
from orchestration.keywords.vocabulary import Vocabulary

_phrases = compiled.load(compiled.KEYPHRASE_COUNTER)

# The weights, tuned on tests/keyword_labels.json (never on the held-out labels).
TITLE_WEIGHT = 2.0  # an occurrence in the title; one in the abstract weighs 1
LENGTH_BOOST = 0.5  # each word after the first: keyphrases are mostly 2-3 words
NAME_BOOST = 1.5  # a name as written (DeltaNet, GSM8K) is what a reader searches for
UNIGRAM_WEIGHT = 0.3  # a lone common word mostly stands inside longer phrases
ADJECTIVE_WEIGHT = 0.5  # a lone adjective (causal, modular) is rarely a keyphrase
OF_WEIGHT = 0.7  # `X of Y` is a keyphrase far less often than a turn of phrase
VERB_LED_WEIGHT = 0.6  # nor is a phrase led by a verb form (unlocking latent reasoning)
TITLE_NAME_BOOST = 3.0  # `Autoformer: Decomposition Transformers ...`: the name before the colon
# A phrase of two or three words that other papers of the reference corpus use too is a
# term (model merging, speech recognition), not a turn of phrase (certain intrinsic limitation)
TERM_BOOST = 2.0
KEYWORDS_PER_PAPER = 10
# The lexicon's tags of a verb form, and how a participle ends (encoded, driven).
VERB_TAGS = frozenset({"VERB", "AUX"})
PARTICIPLE_ENDINGS = ("ed", "en")

URL = re.compile(r"https?://\S+")
# phrase breakers: punctuation, a period or slash between words, dashes
BREAKERS = re.compile(r"[,;:!?()\[\]{}\"“”‘’«»|<>=*#@~^&%$/\\]|\.(?:\s|\Z)|\s[-–—]+\s|[–—]")
# BREAKERS in passes the regex engine scans quickly (_break_phrases says why): a pattern
# that opens with a character class skips every character outside it without trying
# the pattern there, which an alternation of differently opening patterns cannot.
BREAK_CHARACTERS = re.compile(r"[,;:!?()\[\]{}\"“”‘’«»|<>=*#@~^&%$/\\–—]")
SENTENCE_ENDS = re.compile(r"\.(?:\s|\Z)")
SENTENCE_ENDS_AND_DASHES = re.compile(r"[.\s](?:(?<=\.)(?:\s|\Z)|(?<=\s)[-–—]+\s)")
DASHES = "-–—"
SPACE = re.compile(r"\s+")
POSSESSIVE = re.compile(r"'[sS]\Z")
ALPHA = re.compile(r"[^\W\d_]")
NOT_A_WORD = re.compile(r"[^\w.+'-]|_")
DIGIT = re.compile(r"[0-9]")
ADVERB = re.compile(r"[a-z]{3}ly\Z")
NOT_ADVERBS = frozenset(
    {"anomaly", "family", "assembly", "supply", "monopoly", "butterfly", "italy"}
)
ADJECTIVE_ENDINGS = ("al", "ive", "ous", "ful", "less", "able", "ible")
VERB_LED = re.compile(r"[a-z-]+ing ")
# `X of Y` where X merely counts or sorts Y (number of, set of) is no keyphrase.
NOT_OF_HEADS = frozenset(
    [
        "number",
        "numbers",
        "set",
        "sets",
        "lack",
        "range",
        "variety",
        "kind",
        "kinds",
        "type",
        "types",
        "amount",
        "amounts",
        "class",
        "family",
        "collection",
        "part",
        "parts",
        "use",
        "form",
        "forms",
        "level",
        "levels",
        "degree",
        "terms",
        "order",
        "example",
        "examples",
        "size",
        "quality",
        "ability",
        "value",
        "values",
        "point",
        "points",
        "end",
        "means",
        "aim",
        "goal",
        "basis",
        "effect",
        "effects",
        "impact",
        "importance",
        "role",
        "success",
        "analysis",
        "study",
        "studies",
        "evaluation",
        "performance",
        "lot",
        "lots",
        "majority",
        "state-of-the-art",
        "thousands",
        "millions",
        "billions",
        "hundreds",
        "dozens",
    ]
)
# Letters NFKD does not take apart, folded as PostgreSQL's unaccent folds them.
UNACCENT = str.maketrans(
    {
        "ß": "ss",
        "æ": "ae",
        "Æ": "AE",
        "œ": "oe",
        "Œ": "OE",
        "ø": "o",
        "Ø": "O",
        "ł": "l",
        "Ł": "L",
        "đ": "d",
        "Đ": "D",
        "ı": "i",
        "þ": "th",
        "Þ": "TH",
    }
)


class Keyword(NamedTuple):
    """One keyphrase of a paper. A tuple rather than a frozen dataclass: every listing makes ten."""

    keyword: str  # the key: lower case, last word singular (what trends group by)
    score: float
    rank: int
    in_title: bool
    occurrences: int
    display: str  # as the paper writes it: LoRA, GPT-4, Mamba-2 (last word singular)


@dataclass(slots=True)
class Candidate:
    """A phrase in display form, with what the score needs."""

    word_count: int
    is_named: bool
    title_occurrences: int = 0
    abstract_occurrences: int = 0


# ---------- words


_SINGULAR_AS_WRITTEN = frozenset(
    [
        "series",
        "species",
        "news",
        "physics",
        "mathematics",
        "robotics",
        "dynamics",
        "statistics",
        "linguistics",
        "economics",
        "ethics",
        "genomics",
        "analytics",
        "semantics",
        "pragmatics",
        "kinetics",
        "movies",
        "cookies",
        "lens",
        "bias",
        "gas",
        "atlas",
        "canvas",
    ]
)


@lru_cache(maxsize=1 << 16)
def singular(word: str) -> str:
    """The singular of an English noun, by rule: enough for the last word of a keyphrase
    (models -> model, strategies -> strategy, approaches -> approach) without a dictionary."""
    if word in _SINGULAR_AS_WRITTEN:
        return word
    if word in ("matrices", "vertices", "indices", "appendices"):
        return word[:-4] + "ix"
    if word in ("hypotheses", "analyses", "syntheses", "theses", "diagnoses", "bases"):
        return word[:-2] + "is"
    if word in ("criteria", "phenomena"):
        return word[:-1] + "on"
    if word.endswith(("ss", "us", "is", "ics")):
        return word
    if word.endswith("ies") and len(word) > 4 and word[-4] not in "aeiou":
        return word[:-3] + "y"
    if word.endswith(("ches", "shes", "xes", "sses", "zzes")):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and word[-2] != "s":
        return word[:-1]
    return word


def fold(text: str) -> str:
    """Format characters off (zero-width spaces, soft hyphens: invisible, they must not split a
    word), NFKC, then accents off (Fréchet -> Frechet), as PostgreSQL's unaccent does."""
    if text.isascii():
        return text
    text = unicodedata.normalize("NFKC", text.translate(FORMAT_CHARACTERS))
    decomposed = unicodedata.normalize("NFKD", text.translate(UNACCENT))
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return unicodedata.normalize("NFC", stripped)


# Unicode's format characters (category Cf, Unicode 16), deleted by str.translate;
# as dbt's macro format_characters (tests check both against unicodedata).
FORMAT_CHARACTER_RANGES = (
    (0x00AD, 0x00AD),
    (0x0600, 0x0605),
    (0x061C, 0x061C),
    (0x06DD, 0x06DD),
    (0x070F, 0x070F),
    (0x0890, 0x0891),
    (0x08E2, 0x08E2),
    (0x180E, 0x180E),
    (0x200B, 0x200F),
    (0x202A, 0x202E),
    (0x2060, 0x2064),
    (0x2066, 0x206F),
    (0xFEFF, 0xFEFF),
    (0xFFF9, 0xFFFB),
    (0x110BD, 0x110BD),
    (0x110CD, 0x110CD),
    (0x13430, 0x1343F),
    (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A),
    (0xE0001, 0xE0001),
    (0xE0020, 0xE007F),
)
FORMAT_CHARACTERS = dict.fromkeys(
    code for first, last in FORMAT_CHARACTER_RANGES for code in range(first, last + 1)
)


class _Token(NamedTuple):
    """A word of a text. A tuple, as Keyword: the compiled counter reads its fields by index."""

    word: str  # lower case
    is_breaker: bool
    is_generic: bool
    is_named: bool
    written: str  # as written, possessive and edge punctuation off
    may_start: bool  # not a finite verb (posits, involve): may open a phrase
    may_continue: bool  # nor a participle (encoded, devised): may stand after its first word
    singular: str  # singular(word), made once per token rather than per phrase it ends


@cache
def _lexicon() -> Callable[[str], dict[str, tuple[str, ...]]]:
    # imported where keywords are extracted, not by every command: it imports numpy (70 ms)
    from lemminflect import getAllLemmas

    return getAllLemmas


def _verb_only(word: str) -> tuple[bool, bool]:
    """(may start, may continue) a phrase, by what an English lexicon (lemminflect) says the
    word can be. A word that can only be a verb is no part of a noun phrase, except as a
    gerund (latent reasoning, speculative decoding) or, first, as a participle (supervised
    learning); a word the lexicon lacks (names, hyphenated words) may be anything."""
    parts = _lexicon()(word)
    if not parts or parts.keys() - VERB_TAGS:
        return True, True
    if word.endswith("ing"):
        return True, True
    return word.endswith(PARTICIPLE_ENDINGS), False


def _kind(word: str, vocabulary: Vocabulary) -> str | None:
    for form in (word, singular(word)):
        if form in vocabulary.function_words:
            return "function"
        if form in vocabulary.generic_words:
            return "generic"
    return None


TOKEN_CACHE_LIMIT = 1_000_000


def _tokens(text: str, vocabulary: Vocabulary) -> list[_Token]:
    text = URL.sub(" | ", fold(text))
    cache = vocabulary.token_cache
    if len(cache) > TOKEN_CACHE_LIMIT:
        cache.clear()
    if _phrases is not None:
        # the cache is then the compiled one (vocabulary.new_token_cache), which keeps what
        # _token makes and finds a word seen before without making its string
        return _phrases.tokens(text, cache, _token, vocabulary)
    known = cache.get
    # `or`: a _Token is always true, so only a word not seen before is made (and cached)
    return [
        known(raw) or _cached_token(raw, vocabulary)
        for raw in _split_at_spaces(_break_phrases(text))
    ]


def _cached_token(raw: str, vocabulary: Vocabulary) -> _Token:
    token = vocabulary.token_cache[raw] = _token(raw, vocabulary)
    return token


def _break_phrases(text: str) -> str:
    """BREAKERS.sub(" | ", text) up to the amount of white space, which the split after it
    ignores; a property test holds the two alike.

    Passes rather than one regular expression, whose alternation tries all four of its
    branches at every character. A period's and a dash's breakers share one pass:
    which of them takes the white space between them (`end. - next`) decides what is
    left. A dash after white space is rare, so most texts take the period's pass alone.
    The characters that break wherever they stand come last: a break already inserted
    holds one (`|`), and replacing it again adds only white space.
    """
    if _dash_after_space(text):
        text = SENTENCE_ENDS_AND_DASHES.sub(" | ", text)
    else:
        text = SENTENCE_ENDS.sub(" | ", text)
    return BREAK_CHARACTERS.sub(" | ", text)


def _dash_after_space(text: str) -> bool:
    # str.find over each dash, not a regular expression: hyphens are common (state-of-the-art),
    # a dash after white space is not, and `\s` in a pattern is tested at every character.
    for dash in DASHES:
        at = text.find(dash, 1)
        while at != -1:
            if text[at - 1].isspace():
                return True
            at = text.find(dash, at + 1)
    return False


def _split_at_spaces(text: str) -> list[str]:
    """SPACE.split(text), by str.split, which cuts at the same white space (Python's regular
    expressions and str.split share one definition of it) without the regex engine. re.split
    also gives an empty piece before white space that opens the text and after white space
    that ends it; those pieces stand as breakers where a sentence starts (display_form), so
    they are kept."""
    pieces = text.split()
    if not text or text[0].isspace():
        pieces.insert(0, "")
    if text and text[-1].isspace():
        pieces.append("")
    return pieces


def _token(raw: str, vocabulary: Vocabulary) -> _Token:
    written = POSSESSIVE.sub("", raw.strip("'.-"))
    # interned: the compiled counter tells words apart by address (_phrases.pyx)
    word = sys.intern(written.lower())
    kind = _kind(word, vocabulary)
    is_breaker = (
        len(word) < 2
        or ALPHA.search(word) is None  # numbers, lone symbols
        or "0" <= word[0] <= "9"  # measures: 1.3b, 300h
        or NOT_A_WORD.search(word) is not None
        or kind == "function"
        # adverbs (compositionally, respectively) end a phrase too
        or (ADVERB.search(word) is not None and word not in NOT_ADVERBS)
    )
    is_named = is_name(written)
    may_start, may_continue = (True, True) if is_breaker or is_named else _verb_only(word)
    return _Token(
        word,
        is_breaker,
        kind == "generic",
        is_named,
        written,
        may_start,
        may_continue,
        singular(word),
    )


def is_name(written: str) -> bool:
    """Whether a word is a name as written: inner capitals, or letters and digits (DeltaNet,
    LaTRO, GSM8K, BERT).

    Two scans rather than one pattern `letter.*digit|digit.*letter`: a word is one token
    however long (up to a listing line's 100,000 characters), and that pattern retries from
    each letter, quadratic in the word's length.
    """
    if sum(ch.isupper() for ch in written) >= 2:
        return True
    return DIGIT.search(written) is not None and ALPHA.search(written) is not None


# ---------- candidates


# A gram's counts while a paper is read: [word count, last word (None for `X of Y`,
# which keeps its form), all generic, any named, title occurrences, abstract
# occurrences, where to read its written form]; a list, not a dataclass, because
# it is the innermost loop.
WORD_COUNT, LAST_WORD, ALL_GENERIC, IS_NAMED, IN_TITLE, IN_ABSTRACT, SHOWN_AT = range(7)
# Where a phrase's written form is read, best first: the abstract mid-sentence
# (as the authors write it), the title (Title Case dropped), the abstract at a
# sentence's start (its first capital dropped). With the field and the index:
# (rank, field, index).
MID_SENTENCE, IN_THE_TITLE, SENTENCE_START = range(3)


def _grams(tokens: list[_Token]) -> Iterator[tuple[str, int, str | None, bool, bool, int]]:
    """(words, word count, last word, all generic, any named, first token's index) of every
    gram in one field."""
    count = len(tokens)
    for i, one in enumerate(tokens):
        if one.is_breaker:
            continue
        if one.may_continue:  # alone, a word is its own last word
            yield one.word, 1, one.word, one.is_generic, one.is_named, i
        two = tokens[i + 1] if i + 1 < count else None
        if two is not None and not two.is_breaker:
            if not (one.may_start and two.may_continue):
                continue
            yield (
                f"{one.word} {two.word}",
                2,
                two.word,
                one.is_generic and two.is_generic,
                one.is_named or two.is_named,
                i,
            )
            three = tokens[i + 2] if i + 2 < count else None
            if three is not None and not three.is_breaker and three.may_continue:
                yield (
                    f"{one.word} {two.word} {three.word}",
                    3,
                    three.word,
                    one.is_generic and two.is_generic and three.is_generic,
                    one.is_named or two.is_named or three.is_named,
                    i,
                )
        # `X of Y` across the `of`, when X and Y are whole one-word runs
        elif (
            two is not None
            and two.word == "of"
            and i + 2 < count
            and not (three := tokens[i + 2]).is_breaker
            and (i == 0 or tokens[i - 1].is_breaker)
            and (i + 3 >= count or tokens[i + 3].is_breaker)
            and one.word not in NOT_OF_HEADS
        ):
            yield (
                f"{one.word} of {three.word}",
                3,
                None,
                one.is_generic or three.is_generic,
                one.is_named or three.is_named,
                i,
            )


def candidates(title: str, abstract: str | None, vocabulary: Vocabulary) -> dict[str, Candidate]:
    """Candidate phrases of one paper, in display form (lower case, the last word singular)."""
    return {
        phrase: Candidate(*counts[:PHRASE_SHOWN_AT])
        for phrase, counts in _phrase_counts(title, abstract, vocabulary).items()
    }


# A phrase's counts in _phrase_counts: Candidate's fields in a list, which the
# innermost loop builds and updates several times faster than a dataclass.
PHRASE_WORD_COUNT, PHRASE_IS_NAMED, PHRASE_IN_TITLE, PHRASE_IN_ABSTRACT, PHRASE_SHOWN_AT = range(5)


def _phrase_counts(
    title: str,
    abstract: str | None,
    vocabulary: Vocabulary,
    tokens: tuple[list[_Token], list[_Token]] | None = None,
) -> dict[str, list]:
    """candidates(), each as [word count, is named, title occurrences, abstract occurrences,
    where to read its written form]: compiled where it is built, else in Python."""
    if tokens is None:
        tokens = (_tokens(title, vocabulary), _tokens(abstract or "", vocabulary))
    if _phrases is None:
        return _phrase_counts_in_python(tokens, vocabulary)
    return _phrases.phrase_counts(
        *tokens, vocabulary.generic_words, NOT_OF_HEADS, ADJECTIVE_ENDINGS
    )


def _phrase_counts_in_python(
    tokens: tuple[list[_Token], list[_Token]], vocabulary: Vocabulary
) -> dict[str, list]:
    """_phrase_counts in Python: the rule's statement, and the reference the compiled
    counter (_phrases.pyx) is tested against."""
    grams: dict[str, list] = {}
    for field, field_tokens in zip((IN_TITLE, IN_ABSTRACT), tokens, strict=True):
        for words, word_count, last_word, all_generic, is_named, start in _grams(field_tokens):
            gram = grams.get(words)
            if gram is None:
                gram = grams[words] = [word_count, last_word, all_generic, is_named, 0, 0, None]
            else:
                gram[ALL_GENERIC] = gram[ALL_GENERIC] and all_generic
                gram[IS_NAMED] = gram[IS_NAMED] or is_named
            gram[field] += 1
            shown_at = gram[SHOWN_AT]
            if shown_at is None or shown_at[0] != MID_SENTENCE:
                if field == IN_TITLE:
                    rank = IN_THE_TITLE
                elif start == 0 or field_tokens[start - 1].written == "|":
                    rank = SENTENCE_START
                else:
                    rank = MID_SENTENCE
                if shown_at is None or rank < shown_at[0]:
                    gram[SHOWN_AT] = (rank, field, start)

    # a candidate gives way to a longer one that contains it and occurs as often,
    # except to a mere generic tail: `hard attention` stands, `hard attention model`
    # adds nothing to it
    longer_by_part: dict[str, list[tuple[str, list]]] = {}
    for words, gram in grams.items():
        if gram[WORD_COUNT] > 1:
            head = words.rpartition(" ")[0]
            tail = words.partition(" ")[2]
            longer_by_part.setdefault(head, []).append((words, gram))
            if tail != head:
                longer_by_part.setdefault(tail, []).append((words, gram))

    found: dict[str, list] = {}
    for words, (
        word_count,
        last_word,
        all_generic,
        is_named,
        in_title,
        in_abstract,
        shown_at,
    ) in grams.items():
        if all_generic:
            continue
        longer = longer_by_part.get(words)
        if longer and _dominated(
            words, word_count, last_word, in_title + in_abstract, longer, vocabulary
        ):
            continue
        phrase = (
            words
            if last_word is None
            else words[: len(words) - len(last_word)] + singular(last_word)
        )
        counts = found.get(phrase)
        if counts is None:
            found[phrase] = [word_count, is_named, in_title, in_abstract, shown_at]
        else:
            counts[PHRASE_SHOWN_AT] = min(counts[PHRASE_SHOWN_AT], shown_at)
            counts[PHRASE_WORD_COUNT] = max(counts[PHRASE_WORD_COUNT], word_count)
            counts[PHRASE_IS_NAMED] = counts[PHRASE_IS_NAMED] or is_named
            counts[PHRASE_IN_TITLE] += in_title
            counts[PHRASE_IN_ABSTRACT] += in_abstract
    return found


def _dominated(
    words: str,
    word_count: int,
    last_word: str | None,
    occurrences: int,
    longer_grams: list[tuple[str, list]],
    vocabulary: Vocabulary,
) -> bool:
    for longer_words, longer in longer_grams:
        if (
            longer[WORD_COUNT] != word_count + 1
            or longer[IN_TITLE] + longer[IN_ABSTRACT] < occurrences
        ):
            continue
        generic_tail = (
            longer_words.startswith(words + " ")
            and longer_words[len(words) + 1 :] in vocabulary.generic_words
        )
        if (
            not generic_tail
            or word_count == 1
            or (last_word is not None and last_word.endswith(ADJECTIVE_ENDINGS))
        ):
            return True
    return False


# ---------- scores


def form_weight(phrase: str, word_count: int, is_named: bool) -> float:
    if is_named:
        return NAME_BOOST
    if word_count == 1:
        return ADJECTIVE_WEIGHT if phrase.endswith(ADJECTIVE_ENDINGS) else UNIGRAM_WEIGHT
    if " of " in phrase:
        return OF_WEIGHT
    if VERB_LED.match(phrase):
        return VERB_LED_WEIGHT
    return 1.0


class Ranked(NamedTuple):
    """A paper's best candidates and what their display forms are read from."""

    # best first, each (-score, phrase, title occurrences, abstract occurrences, where to
    # read its written form: see _phrase_counts)
    best: list[tuple[float, str, int, int, tuple[int, int, int]]]
    tokens: tuple[list[_Token], list[_Token]]  # the title's and the abstract's
    name: str | None  # title_name(title)


def ranked(
    title: str, abstract: str | None, vocabulary: Vocabulary, limit: int = KEYWORDS_PER_PAPER
) -> Ranked:
    """The `limit` best candidates of a paper, best first (ties: alphabetical): compiled where it
    is built, else in Python."""
    tokens = (_tokens(title, vocabulary), _tokens(abstract or "", vocabulary))
    name = title_name(title)
    if _phrases is None:
        counts = _phrase_counts(title, abstract, vocabulary, tokens)
        return Ranked(_ranked_in_python(counts, name, vocabulary, limit), tokens, name)
    # counted and ranked in one call: the counts stay C structures in between
    best = _phrases.ranked(
        *tokens,
        name,
        vocabulary.generic_words,
        NOT_OF_HEADS,
        ADJECTIVE_ENDINGS,
        vocabulary.idf_by_phrase,
        vocabulary.unseen_idf,
        SCORE_WEIGHTS,
        limit,
    )
    return Ranked(best, tokens, name)


def keywords(
    title: str, abstract: str | None, vocabulary: Vocabulary, limit: int = KEYWORDS_PER_PAPER
) -> list[Keyword]:
    """The `limit` best keyphrases of a paper, best first (ties: alphabetical)."""
    best, tokens, name = ranked(title, abstract, vocabulary, limit)
    if _phrases is not None:
        return _phrases.keywords_of(best, *tokens, name, Keyword)
    return [
        Keyword(
            phrase,
            -negative_score,
            rank,
            in_title > 0,
            in_title + in_abstract,
            display_form(phrase, shown_at, tokens, name),
        )
        for rank, (negative_score, phrase, in_title, in_abstract, shown_at) in enumerate(
            best, start=1
        )
    ]


# The score's weights in the order the compiled ranking (_phrases.ranked) takes them.
SCORE_WEIGHTS = (
    TITLE_WEIGHT,
    LENGTH_BOOST,
    NAME_BOOST,
    UNIGRAM_WEIGHT,
    ADJECTIVE_WEIGHT,
    OF_WEIGHT,
    VERB_LED_WEIGHT,
    TITLE_NAME_BOOST,
    TERM_BOOST,
)


def _ranked_in_python(
    counts: dict[str, list], name: str | None, vocabulary: Vocabulary, limit: int
) -> list[tuple[float, str, int, int, tuple[int, int, int]]]:
    """The `limit` best of a paper's candidates, best first, each as (-score, phrase, title
    occurrences, abstract occurrences, where to read its written form): the reference
    the compiled ranking is tested against."""
    scored = []
    idf = vocabulary.idf
    terms = vocabulary.document_frequency  # the phrases of two papers or more
    # A phrase that stands only beside itself plus a generic word (`large language` beside
    # `large language model`, as often) is no term of its own, whatever the reference says.
    heads = _generic_tail_heads(counts, vocabulary)
    for phrase, (word_count, is_named, in_title, in_abstract, shown_at) in counts.items():
        is_term = (
            word_count > 1 and phrase in terms and heads.get(phrase, 0) < in_title + in_abstract
        )
        score = (
            (in_abstract + TITLE_WEIGHT * in_title)
            * idf(phrase)
            * (1.0 + LENGTH_BOOST * (word_count - 1))
            * form_weight(phrase, word_count, is_named)
            * (TITLE_NAME_BOOST if phrase == name else 1.0)
            * (TERM_BOOST if is_term else 1.0)
        )
        scored.append((-round(score, 4), phrase, in_title, in_abstract, shown_at))
    scored.sort()
    return scored[:limit]


def _generic_tail_heads(counts: dict[str, list], vocabulary: Vocabulary) -> dict[str, int]:
    """Phrase -> occurrences of the phrase plus one generic word, among the paper's candidates."""
    heads: dict[str, int] = {}
    for phrase, (word_count, _, in_title, in_abstract, _) in counts.items():
        if word_count > 2 and " of " not in phrase:
            head, _, last = phrase.rpartition(" ")
            if last in vocabulary.generic_words:
                heads[head] = max(heads.get(head, 0), in_title + in_abstract)
    return heads


def title_name(title: str) -> str | None:
    """The name a title gives before its colon (`Autoformer: ...` -> autoformer), one or two
    words, as a candidate's key; None for a title without one."""
    head, colon, _ = title.partition(":")
    words = head.split()
    if not colon or not 1 <= len(words) <= 2:
        return None
    folded = fold(" ".join(words)).lower().split()
    if not folded:  # only invisible characters before the colon (a soft hyphen)
        return None
    *first, last = folded
    return " ".join([*first, singular(last)])


# ---------- display forms


def display_form(
    phrase: str,
    shown_at: tuple[int, int, int],
    tokens: tuple[list[_Token], list[_Token]],
    name: str | None,
) -> str:
    """The phrase as the paper writes it (LoRA, GPT-4, state space model), read where
    _phrase_counts found it best written: mid-sentence in the abstract as it stands, in the
    title without its Title Case, at a sentence's start without that capital. The last word
    stays singular, as in the key, so that one keyword shows one way; the title's `name`
    (see title_name) is shown as the title writes it.

    One place per phrase, recorded while counting, rather than a vote over every
    occurrence: reading them all again cost a third of the extractor's time.
    """
    rank, field, start = shown_at
    words = phrase.split(" ")
    if phrase == name and rank == SENTENCE_START:
        rank, field, start = IN_THE_TITLE, IN_TITLE, 0  # the name opens the title
    written = _written_at(words, tokens[field - IN_TITLE], start)
    if written is None:  # a plural the rule cannot take back (matrices): the key
        return phrase
    if phrase == name:
        return written
    if rank == IN_THE_TITLE:
        return " ".join(_untitled(word) for word in written.split(" "))
    if rank == SENTENCE_START:
        first, _, rest = written.partition(" ")
        return f"{_untitled(first)} {rest}" if rest else _untitled(first)
    return written


def _written_at(words: list[str], tokens: list[_Token], start: int) -> str | None:
    """The written form of the phrase of `words` if it starts at tokens[start], else None."""
    if start + len(words) > len(tokens):
        return None
    written = []
    for offset, word in enumerate(words):
        token = tokens[start + offset]
        if token.is_breaker and word != "of":
            return None
        last = offset == len(words) - 1
        if token.word != word and not (last and token.singular == word):
            return None
        text = token.written
        if last and token.word != word:  # written plural: keep its capitals, singular
            text = text[: len(word)] if text.lower().startswith(word) else word
        written.append(text)
    return " ".join(written)


def _untitled(word: str) -> str:
    """A word without the capital of Title Case or of a sentence's start (Large, Low-Rank,
    Back-translation -> large, low-rank, back-translation); a name (LoRA, BERT, GPT-4,
    Mamba-2) as written."""
    first, *others = word.split("-")
    if _capitalized(first) and all(_capitalized(part) or part.islower() for part in others):
        return word.lower()
    return word


def _capitalized(part: str) -> bool:
    return part[:1].isupper() and (len(part) == 1 or part[1:].islower())

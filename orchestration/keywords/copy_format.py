"""A paper's keyphrases as features.listing_keywords stores them: five parallel arrays (keywords,
scores, in title, occurrences, display forms) in COPY's text format, tab-separated.

Written by hand because psycopg dumps arrays element by element in Python,
which costs several times the joins of their text form. Every text element is
quoted, so array_in reads any text as one element; a quote or backslash in
one is escaped, then what COPY's text format must escape.

The features step writes one such row per listing it computes, so where the
keyphrase rule is compiled the arrays are made straight from its ranked
candidates (_phrases.keyword_arrays), rather than from ten Keyword tuples made
only to be taken apart again. `arrays_of` states the format, and the tests
hold the compiled arrays to it.
"""

from __future__ import annotations

import re

from orchestration.keywords import extract
from orchestration.keywords.extract import Keyword, keywords, ranked
from orchestration.keywords.vocabulary import Vocabulary

# What an array element or a COPY text field must escape: array_in's quote and
# backslash, then COPY's backslash (doubled again) and line and field breaks.
NEEDS_ESCAPE = re.compile(r'["\\\t\n\r]')
COPY_TEXT_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def keyword_arrays(title: str, abstract: str | None, vocabulary: Vocabulary) -> str:
    """The arrays of the paper's keyphrases (extract.keywords), as `arrays_of` writes them."""
    # the module extract loaded, if it was built: one rule, compiled or not, for both
    compiled_rule = extract._phrases
    if compiled_rule is None:
        return arrays_of(keywords(title, abstract, vocabulary))
    best, tokens, name = ranked(title, abstract, vocabulary)
    return compiled_rule.keyword_arrays(best, *tokens, name)


def arrays_of(found: list[Keyword]) -> str:
    """The five arrays of `found`, tab-separated: the format's statement."""
    return "\t".join(
        (
            _text_array([k.keyword for k in found]),
            _array([repr(k.score) for k in found]),
            _array(["t" if k.in_title else "f" for k in found]),
            _array([str(k.occurrences) for k in found]),
            _text_array([k.display for k in found]),
        )
    )


def _array(items: list[str]) -> str:
    return "{" + ",".join(items) + "}"


def _text_array(items: list[str]) -> str:
    if not items:
        return "{}"
    # the items alone, not the joined text: its separators are quotes
    if NEEDS_ESCAPE.search("".join(items)) is None:
        return '{"' + '","'.join(items) + '"}'
    quoted = [item.replace("\\", "\\\\").replace('"', '\\"') for item in items]
    return ('{"' + '","'.join(quoted) + '"}').translate(COPY_TEXT_ESCAPES)

"""The compiled keyphrase counter and ranking (_phrases.pyx) against the Python rule they compile."""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from orchestration import compiled
from orchestration.keywords import copy_format, extract
from orchestration.keywords.extract import (
    VERB_LED,
    Keyword,
    _break_phrases,
    _phrase_counts_in_python,
    _split_at_spaces,
    _tokens,
    keywords,
)
from orchestration.keywords.vocabulary import load_vocabulary

from conftest import ANY_TEXT, PROJECT_ROOT, SEEDS

VOCABULARY = load_vocabulary()

# Words that take every branch of the counter: function words (`of` among
# them), generic words alone and as a tail, names, adjectives, a word only a
# verb, gerunds and participles, plurals, and the breakers between them.
WORDS = st.sampled_from(
    [
        "of", "the", "a", "number", "mixture", "experts", "expert", "model", "models",
        "method", "data", "state", "space", "large", "language", "causal", "modular",
        "LoRA", "GPT-4", "BERT", "Mamba-2", "posits", "encoded", "learning", "supervised",
        "matrices", "Attention", "attention", "hard", "reasoning", ",", ".", ":", "-", "—",
        "|", "(", ")", "2024", "it's", "Models'",
    ]
)  # fmt: skip
TEXT = st.lists(WORDS, max_size=60).map(" ".join)


# Every character the tokenizer tells apart: each breaking character (read from the
# rule's own pattern, so that one added there is tried here), the period, the three
# dashes, white space of one and more bytes (U+2028 and U+001C are white space to
# Python, U+200B is not), and letters of each of str's widths.
TOKENIZER_CHARACTERS = st.sampled_from(
    [
        *(ch for ch in map(chr, range(0x10000)) if extract.BREAK_CHARACTERS.match(ch)),
        *(".", "-", "–", "—", " ", "\t", "\n", "\u00a0", "\u2028", "\x1c", "\u200b"),
        *("a", "é", "Ж", "𝔸"),
    ]
)


def compiled_and_python(title: str, abstract: str) -> tuple[dict, dict]:
    tokens = (_tokens(title, VOCABULARY), _tokens(abstract, VOCABULARY))
    compiled = extract._phrase_counts(title, abstract, VOCABULARY, tokens)
    return compiled, _phrase_counts_in_python(tokens, VOCABULARY)


def pieces_compiled_and_python(text: str) -> tuple[list[str], list[str]]:
    return extract._phrases.pieces(text), _split_at_spaces(_break_phrases(text))


@contextlib.contextmanager
def python_rule() -> Iterator[None]:
    """The keyphrase rule in Python, not compiled, within the block."""
    phrases, extract._phrases = extract._phrases, None
    try:
        yield
    finally:
        extract._phrases = phrases


def keywords_compiled_and_python(title: str, abstract: str) -> tuple[list, list]:
    compiled = keywords(title, abstract, VOCABULARY)
    with python_rule():
        return compiled, keywords(title, abstract, VOCABULARY)


def arrays_compiled_and_python(title: str, abstract: str) -> tuple[str, str]:
    compiled = copy_format.keyword_arrays(title, abstract, VOCABULARY)
    with python_rule():
        return compiled, copy_format.keyword_arrays(title, abstract, VOCABULARY)


# What the compiled rule gives beside what the Python rule gives: a paper's keyphrases
# (keywords()), and the features table's arrays of them (copy_format.keyword_arrays).
RESULTS_COMPILED_AND_PYTHON = [keywords_compiled_and_python, arrays_compiled_and_python]


def test_the_counter_is_compiled_where_the_suite_runs():
    # make builds it before the suite; were it missing, every test below would
    # compare the Python rule with itself
    assert extract._phrases is not None, "run `make bootstrap`: the counter is not compiled"


@settings(max_examples=1500, deadline=None)
@given(TEXT, TEXT)
@example("Mixture of Experts: a model", "A mixture of experts. The mixture of experts model.")
@example("", "state space model state space model, state space")
def test_the_compiled_counter_counts_as_the_python_rule(title, abstract):
    compiled, python = compiled_and_python(title, abstract)
    assert compiled == python


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80), st.text(max_size=400))
def test_the_compiled_counter_counts_any_text_as_the_python_rule(title, abstract):
    compiled, python = compiled_and_python(title, abstract)
    assert compiled == python


def test_a_word_tokenized_again_after_the_cache_is_cleared_is_still_the_same_word():
    # the counter tells words apart by address: a token made after the token cache is
    # cleared must share its word with the title's token made before
    title_tokens = _tokens("state space models", VOCABULARY)
    VOCABULARY.token_cache.clear()
    abstract_tokens = _tokens("A state space model. Then state space models.", VOCABULARY)
    assert title_tokens[0] is not abstract_tokens[1]  # two tokens ...
    assert title_tokens[0].word is abstract_tokens[1].word  # ... of one word
    tokens = (title_tokens, abstract_tokens)
    counts = extract._phrase_counts("", "", VOCABULARY, tokens)
    assert counts == _phrase_counts_in_python(tokens, VOCABULARY)
    assert counts["state space model"][2:4] == [1, 2]


def test_the_counter_refuses_a_word_it_cannot_tell_by_address():
    (token,) = _tokens("space", VOCABULARY)
    copied = token._replace(word="".join(["spa", "ce"]))  # equal, not interned
    with pytest.raises(ValueError, match="not interned"):
        extract._phrase_counts("", "", VOCABULARY, ([token], [copied]))


# Words of each of str's widths (one byte a character: ASCII and Latin-1; two; four), the
# breaks between them, and words that differ only past their first characters.
CACHE_TEXT = st.lists(
    st.sampled_from(
        ["word", "words", "wordy", "café", "naïve", "Ж", "жук", "𝔸", "𝔸x", "x𝔸", ",", ".", "—"]
    ),
    max_size=30,
).map(" ".join)


@settings(max_examples=500, deadline=None)
@given(st.lists(CACHE_TEXT, min_size=1, max_size=4))
def test_the_compiled_token_cache_finds_each_word_where_it_stands(texts):
    # texts of one width and another share the cache: a word met in a Latin-1 text is
    # found again, in place, in an ASCII one, and the other way round
    cache = extract._phrases.TokenCache()
    for _ in range(2):  # the second pass finds every piece kept
        for text in texts:
            found = extract._phrases.tokens(text, cache, extract._token, VOCABULARY)
            expected = [extract._token(piece, VOCABULARY) for piece in _pieces_in_python(text)]
            assert found == expected
            kept = [cache[piece] for piece in _pieces_in_python(text)]
            assert all(a is b for a, b in zip(kept, found, strict=True))
    # each piece once, and the empty piece and the break, which every text may need
    pieces = {piece for text in texts for piece in _pieces_in_python(text)}
    assert len(cache) == len(pieces | {"", "|"})


def _pieces_in_python(text: str) -> list[str]:
    return _split_at_spaces(_break_phrases(text))


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.tuples(st.just("set"), ANY_TEXT, st.integers()),
            st.tuples(st.just("get"), ANY_TEXT, st.none()),
            st.tuples(st.just("clear"), st.none(), st.none()),
        ),
        max_size=50,
    )
)
def test_the_compiled_token_cache_is_a_mapping_as_a_dict_is(operations):
    # the Python rule reads and writes it as a dict (cache.get, cache[piece] = token)
    cache, model = extract._phrases.TokenCache(), {}
    for operation, piece, value in operations:
        if operation == "set":
            cache[piece] = model[piece] = value
        elif operation == "clear":
            cache.clear()
            model.clear()
        assert len(cache) == len(model)
        if piece is not None:
            assert cache.get(piece) == model.get(piece)
            assert (piece in cache) == (piece in model)
    for piece, value in model.items():
        assert cache[piece] == value
    with pytest.raises(KeyError):
        cache["\x00 never kept"]


def test_the_compiled_token_cache_keeps_every_word_as_it_grows_and_after_a_clear():
    cache = extract._phrases.TokenCache()
    words = [f"w{number}" for number in range(20_000)]  # many times its first slots
    tokens = extract._phrases.tokens(" ".join(words), cache, extract._token, VOCABULARY)
    assert [token.written for token in tokens] == words
    assert len(cache) == len(words) + 2  # and the empty piece and the break
    again = extract._phrases.tokens(" ".join(reversed(words)), cache, extract._token, VOCABULARY)
    assert again == tokens[::-1] and all(a is b for a, b in zip(again, tokens[::-1], strict=True))
    cache.clear()
    assert len(cache) == 0 and "w1" not in cache
    fresh = extract._phrases.tokens("w1 w2", cache, extract._token, VOCABULARY)
    assert fresh == tokens[1:3] and fresh[0] is not tokens[1]


def test_a_token_kept_while_the_compiled_cache_made_one_is_the_one_it_returns():
    # making a token runs Python, where another thread may keep tokens in the same cache:
    # that one's piece among them, and enough others to make the table grow
    cache = extract._phrases.TokenCache()
    meanwhile = extract._token("word", VOCABULARY)

    def make_while_another_thread_keeps(piece, vocabulary):
        if piece == "word":
            for number in range(5_000):
                cache[f"other{number}"] = extract._token(f"other{number}", vocabulary)
            cache[piece] = meanwhile
        return extract._token(piece, vocabulary)

    tokens = extract._phrases.tokens("a word", cache, make_while_another_thread_keeps, VOCABULARY)
    assert tokens[1] is meanwhile and cache["word"] is meanwhile
    assert len(cache) == 5_000 + 4  # the others, "a", "word", the empty piece and the break
    assert all(cache[f"other{number}"].written == f"other{number}" for number in range(5_000))


def sample_texts() -> list[tuple[str, str]]:
    """Each paragraph of the sample pages as an abstract, the one before it as the title."""
    texts = []
    for path in sorted(Path(SEEDS).iterdir()):
        paragraphs = [p for p in path.read_text(errors="replace").split("\n\n") if p.strip()]
        texts.extend((title[:300], abstract) for title, abstract in itertools.pairwise(paragraphs))
    assert len(texts) > 100
    return texts


def test_the_compiled_counter_counts_the_sample_listings_as_the_python_rule():
    for title, abstract in sample_texts():
        compiled, python = compiled_and_python(title, abstract)
        assert compiled == python, title[:60]


@pytest.mark.parametrize("compiled_and_python_results", RESULTS_COMPILED_AND_PYTHON)
@settings(max_examples=1000, deadline=None)
@given(TEXT, TEXT)
@example(
    "LoRA: Low-Rank Adaptation", "Unlocking latent reasoning. A causal model of causal models."
)
@example("LoRA: Low-Rank Adaptation", "Mixture of Experts. The mixture of experts models.")
def test_the_compiled_ranking_and_arrays_match_the_python_rule(
    compiled_and_python_results, title, abstract
):
    compiled, python = compiled_and_python_results(title, abstract)
    assert compiled == python


@pytest.mark.parametrize("compiled_and_python_results", RESULTS_COMPILED_AND_PYTHON)
def test_the_compiled_ranking_and_arrays_of_the_sample_listings_match_the_python_rule(
    compiled_and_python_results,
):
    for title, abstract in sample_texts():
        compiled, python = compiled_and_python_results(title, abstract)
        assert compiled == python, title[:60]


@settings(max_examples=500, deadline=None)
@given(
    st.lists(
        st.tuples(
            ANY_TEXT,
            st.floats(allow_nan=False, allow_infinity=False),
            st.integers(0, 2**31 - 1),
            st.integers(0, 2**31 - 1),
        ),
        max_size=12,
    )
)
@example([('say "a\\b"\tc\nd\re', 1.5, 1, 0)])
def test_the_compiled_arrays_escape_as_the_python_rule(chosen):
    # No keyphrase the rule finds holds a quote, a backslash or a break (each ends a
    # word), so the escapes are tried on candidates made here: a phrase written
    # nowhere in the (empty) texts shows as itself.
    best = [
        (-score, phrase, title, abstract, (0, 5, 0)) for phrase, score, title, abstract in chosen
    ]
    compiled = extract._phrases.keyword_arrays(best, [], [], None)
    python = copy_format.arrays_of(
        [
            Keyword(phrase, score, rank, title > 0, title + abstract, phrase)
            for rank, (phrase, score, title, abstract) in enumerate(chosen, start=1)
        ]
    )
    assert compiled == python


@settings(max_examples=5000, deadline=None)
@given(st.text(alphabet=TOKENIZER_CHARACTERS, max_size=40))
@example("end. - next")
@example(" -- - x.")
@example("")
def test_the_compiled_tokenizer_cuts_a_text_as_the_python_rule(text):
    compiled, python = pieces_compiled_and_python(text)
    assert compiled == python


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=400))
def test_the_compiled_tokenizer_cuts_any_text_as_the_python_rule(text):
    compiled, python = pieces_compiled_and_python(text)
    assert compiled == python


def test_the_compiled_tokenizer_cuts_the_sample_listings_as_the_python_rule():
    for title, abstract in sample_texts():
        for text in (title, abstract):
            compiled, python = pieces_compiled_and_python(text)
            assert compiled == python, text[:60]


@settings(max_examples=3000, deadline=None)
@given(st.text(alphabet=st.sampled_from(["a", "z", "i", "n", "g", "-", " ", "é", "A", "1"])))
@example("unlocking latent reasoning")
@example("ing reasoning")
def test_a_verb_led_phrase_is_told_as_the_regular_expression_tells_it(phrase):
    assert extract._phrases.verb_led(phrase) == (VERB_LED.match(phrase) is not None)


def test_a_build_from_another_version_of_the_source_is_not_run(tmp_path):
    source = compiled.KEYPHRASE_COUNTER.source_path
    copied = dataclasses.replace(compiled.KEYPHRASE_COUNTER, source=tmp_path / "_phrases.pyx")
    copied.source_path.write_bytes(source.read_bytes())
    assert compiled.load(copied) is extract._phrases
    copied.source_path.write_bytes(source.read_bytes() + b"\n# changed\n")
    with pytest.warns(RuntimeWarning, match="run `make bootstrap` to rebuild it"):
        assert compiled.load(copied) is None


def test_a_machine_without_a_c_compiler_is_told_what_to_install(tmp_path):
    # the build fails before it would replace the module the other tests use
    failed = subprocess.run(
        [sys.executable, "-m", "orchestration.compiled"],
        env={**os.environ, "CC": str(tmp_path / "no-such-compiler")},
        capture_output=True,
        text=True,
        cwd=PROJECT_ROOT,
    )
    assert failed.returncode == 1
    assert "it needs a C compiler and Python's headers" in failed.stderr
    assert extract._phrases is not None

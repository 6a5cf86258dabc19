"""The compiled keyphrase counter (_phrases.pyx) against the Python rule it compiles."""

from __future__ import annotations

import itertools
from pathlib import Path

from hypothesis import example, given, settings
from hypothesis import strategies as st

from orchestration.keywords import extract
from orchestration.keywords.extract import _phrase_counts_in_python, _tokens, keywords
from orchestration.keywords.vocabulary import load_vocabulary

from conftest import SEEDS

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


def compiled_and_python(title: str, abstract: str) -> tuple[dict, dict]:
    tokens = (_tokens(title, VOCABULARY), _tokens(abstract, VOCABULARY))
    compiled = extract._phrase_counts(title, abstract, VOCABULARY, tokens)
    return compiled, _phrase_counts_in_python(tokens, VOCABULARY)


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


def test_the_compiled_counter_counts_the_sample_listings_as_the_python_rule():
    # each paragraph of the sample pages as an abstract, the one before it as the title
    compared = 0
    for path in sorted(Path(SEEDS).iterdir()):
        paragraphs = [p for p in path.read_text(errors="replace").split("\n\n") if p.strip()]
        for title, abstract in itertools.pairwise(paragraphs):
            compiled, python = compiled_and_python(title[:300], abstract)
            assert compiled == python, (path.name, title[:60])
            compared += 1
    assert compared > 100


def test_keywords_are_the_same_with_the_counter_compiled_or_not(monkeypatch):
    title = "LoRA: Low-Rank Adaptation of Large Language Models"
    abstract = (
        "We propose low-rank adaptation, which freezes the pretrained model weights. "
        "Compared to GPT-3 175B fine-tuned with Adam, LoRA reduces trainable parameters. "
        "A mixture of experts and state space models; the state space model scales."
    )
    compiled = keywords(title, abstract, VOCABULARY)
    monkeypatch.setattr(extract, "_phrases", None)
    assert keywords(title, abstract, VOCABULARY) == compiled

"""The extractor's word lists and reference corpus, read from the CSV files beside this module.

- stopwords.csv: words that end a keyphrase (kind `function`: English function
  words and the verbs and adjectives abstracts are made of) and words that may
  stand in a keyphrase but never alone (kind `generic`: model, method, ...).
- document_frequency.csv: in how many papers of a reference corpus each
  candidate phrase occurs (phrases in two papers or more), and the corpus
  size: the IDF side of the score. `paperhouse calibrate` rewrites it.

A fixed reference, rather than the live corpus, makes a paper's keywords a
function of its own text: extraction runs once per listing, and incremental
builds touch only the papers new files touch and still equal a full refresh.
"""

from __future__ import annotations

import csv
import hashlib
import io
import math
import os
import tempfile
from collections.abc import MutableMapping
from dataclasses import dataclass, field
from functools import cache, cached_property
from importlib.metadata import version
from pathlib import Path

HERE = Path(__file__).resolve().parent
STOPWORDS_FILE = HERE / "stopwords.csv"
DOCUMENT_FREQUENCY_FILE = HERE / "document_frequency.csv"

# Bump when the rule in `extract` changes the keywords of the same text; the
# version also carries a digest of the two files, so recalibrating counts too,
# and the English lexicon's version (lemminflect), whose word classes the rule reads.
RULE_VERSION = 6


def new_token_cache() -> MutableMapping:
    """An empty token cache: the compiled rule's own (_phrases.TokenCache, which looks a word up
    where it stands in the text) where it is built, else a dict."""
    # imported here: extract imports this module
    from orchestration.keywords import extract

    return {} if extract._phrases is None else extract._phrases.TokenCache()


@dataclass(frozen=True)
class Vocabulary:
    function_words: frozenset[str]
    generic_words: frozenset[str]
    document_frequency: dict[str, int]
    corpus_documents: int
    version: str
    # raw token -> its classification, filled by extract._token: a corpus has
    # far fewer distinct tokens than tokens, and classifying one is most of the cost
    token_cache: MutableMapping = field(
        default_factory=new_token_cache, repr=False, compare=False, hash=False
    )

    def idf(self, phrase: str) -> float:
        """ln((N + 1) / (df + 1)) + 1, df from the reference corpus (1 for a phrase it lacks)."""
        return self.idf_by_phrase.get(phrase, self.unseen_idf)

    @cached_property
    def idf_by_phrase(self) -> dict[str, float]:
        # computed once per phrase of the reference, not once per phrase of every listing; its
        # keys are document_frequency's, so the compiled ranking reads terms from it too
        documents = self.corpus_documents + 1.0
        return {
            phrase: math.log(documents / (count + 1.0)) + 1.0
            for phrase, count in self.document_frequency.items()
        }

    @cached_property
    def unseen_idf(self) -> float:
        return math.log((self.corpus_documents + 1.0) / 2.0) + 1.0


def _rows(data: bytes) -> csv.DictReader:
    return csv.DictReader(io.StringIO(data.decode("utf-8"), newline=""))


def parse_stopwords(data: bytes) -> dict[str, str]:
    """Word -> its kind (function or generic), from the bytes of stopwords.csv."""
    return {row["word"]: row["kind"] for row in _rows(data)}


def parse_document_frequency(data: bytes) -> tuple[dict[str, int], int]:
    """Phrase -> papers that contain it, and the size of the reference corpus (1 when empty),
    from the bytes of document_frequency.csv."""
    frequencies: dict[str, int] = {}
    corpus = 0
    for row in _rows(data):
        frequencies[row["phrase"]] = int(row["document_count"])
        corpus = max(corpus, int(row["corpus_documents"]))
    return frequencies, corpus or 1


def write_document_frequency(
    frequencies: dict[str, int], corpus_documents: int, path: Path = DOCUMENT_FREQUENCY_FILE
) -> None:
    """Replace the reference at `path` in one rename: a features step starting meanwhile reads
    the old file or the new one, and a calibration killed half-way leaves the old one."""
    handle, staged = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-", suffix=".tmp")
    try:
        with open(handle, "w", newline="", encoding="utf-8") as stream:
            writer = csv.writer(stream, lineterminator="\n")
            writer.writerow(["phrase", "document_count", "corpus_documents"])
            for phrase in sorted(frequencies):
                writer.writerow([phrase, frequencies[phrase], corpus_documents])
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(staged, 0o644)  # mkstemp's 0600 would hide it from other users of the checkout
        os.replace(staged, path)
    except BaseException:
        Path(staged).unlink(missing_ok=True)
        raise


@cache
def load_vocabulary(
    stopwords: Path = STOPWORDS_FILE, reference: Path = DOCUMENT_FREQUENCY_FILE
) -> Vocabulary:
    # each file read once: the version's digest is of the very bytes the rule reads, even when
    # `paperhouse calibrate` replaces the reference meanwhile
    stopword_bytes, reference_bytes = stopwords.read_bytes(), reference.read_bytes()
    kinds = parse_stopwords(stopword_bytes)
    frequencies, corpus = parse_document_frequency(reference_bytes)
    digest = hashlib.sha256(stopword_bytes + b"\0" + reference_bytes).hexdigest()
    return Vocabulary(
        function_words=frozenset(word for word, kind in kinds.items() if kind == "function"),
        generic_words=frozenset(word for word, kind in kinds.items() if kind == "generic"),
        document_frequency=frequencies,
        corpus_documents=corpus,
        version=f"{RULE_VERSION}-{digest[:12]}-lemminflect{version('lemminflect')}",
    )

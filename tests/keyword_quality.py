"""F1@k of extracted keywords against the hand labels in tests/keyword_labels.json.

Both sides are folded by `match_key` before comparing, as keyphrase
benchmarks compare stemmed phrases: case, accents, hyphens (long-range =
long range) and plural endings (models = model) do not count as misses.

Run `python tests/keyword_quality.py` (with PAPERHOUSE_DATABASE_URL or the
embedded warehouse, after `paperhouse run`) to print the figures in docs/keywords.md.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import psycopg

LABELS = Path(__file__).with_name("keyword_labels.json")  # the weights were tuned on these
HELD_OUT = Path(__file__).with_name("keyword_labels_heldout.json")  # never tuned on


def match_key(phrase: str) -> str:
    text = unicodedata.normalize("NFKD", phrase.lower())
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    words = re.findall(r"[a-z0-9]+", text)
    return " ".join(_singular(word) for word in words)


def _singular(word: str) -> str:
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith("s") and not word.endswith(("ss", "us", "is")) and len(word) > 3:
        return word[:-1]
    return word


def load_labels(path: Path = LABELS) -> dict[str, list[str]]:
    return json.loads(path.read_text())["papers"]


@dataclass(frozen=True)
class Score:
    precision: float
    recall: float
    f1: float
    papers: int


def f1_at_k(predicted: dict[str, list[str]], gold: dict[str, list[str]], k: int = 10) -> Score:
    """Macro-averaged precision, recall and F1 of the top `k` predictions per paper."""
    precisions, recalls, f1s = [], [], []
    for title, labels in gold.items():
        wanted = {match_key(label) for label in labels}
        got = []
        for phrase in predicted.get(title, [])[:k]:
            key = match_key(phrase)
            if key not in got:
                got.append(key)
        hits = len(wanted & set(got))
        precision = hits / len(got) if got else 0.0
        recall = hits / len(wanted)
        precisions.append(precision)
        recalls.append(recall)
        f1s.append(2 * precision * recall / (precision + recall) if hits else 0.0)
    n = len(gold)
    return Score(sum(precisions) / n, sum(recalls) / n, sum(f1s) / n, n)


def predicted_keywords(conn: psycopg.Connection, titles: list[str]) -> dict[str, list[str]]:
    rows = conn.execute(
        """
        select papers.title, keywords.keyword
        from analytics.fct_paper_keywords as keywords
        join analytics.dim_papers as papers using (paper_id)
        where papers.title = any(%s)
        order by papers.title, keywords.rank
        """,
        [titles],
    ).fetchall()
    predicted: dict[str, list[str]] = {}
    for title, keyword in rows:
        predicted.setdefault(title, []).append(keyword)
    return predicted


def evaluate(conn: psycopg.Connection, k: int = 10, labels: Path = LABELS) -> Score:
    gold = load_labels(labels)
    return f1_at_k(predicted_keywords(conn, list(gold)), gold, k)


if __name__ == "__main__":
    from orchestration.settings import Settings
    from orchestration.warehouse import database_url

    with psycopg.connect(database_url(Settings.from_env())) as connection:
        for name, path in (("tuned-on", LABELS), ("held-out", HELD_OUT)):
            score = evaluate(connection, labels=path)
            print(
                f"{name}: F1@10 {score.f1:.3f}  precision {score.precision:.3f}  "
                f"recall {score.recall:.3f}  ({score.papers} papers)"
            )

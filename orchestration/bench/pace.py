"""The machine's pace: how long fixed work takes on one core, work no change to paperhouse alters.

These machines run the same instructions up to twice as slowly in some hours
as in others (docs/benchmarks.md), so a bench's seconds say little about a
change across runs unless the run also says how fast its machine was. Two
figures, one of each side a first load spends its cores on:

- Python: counting the word pairs of a fixed text in a dict, the kind of
  work the keyphrase rule's interpreted parts do (process CPU time);
- PostgreSQL: `to_tsvector('english')` of fixed texts of an abstract's
  length, the server's largest cost in a first load (the statement's time,
  one backend on an otherwise idle server).

The bench measures both before and after its first loads; their hour is
somewhere between.
"""

from __future__ import annotations

import random
import time
from itertools import pairwise

import psycopg

# About half a second of each on these machines.
PYTHON_PAIRS = 2_000_000
SERVER_TEXTS = 5_000
# Texts of about 1,000 characters: words, a stop word or two, a number, an abbreviation, and a
# hexadecimal digest that makes each text differ.
SERVER_WORK = """
select sum(length(to_tsvector(
    'english',
    repeat(md5(n::text) || ' transformers were trained on larger corpora, e.g. 12 of them; ', 10)
)))
from generate_series(1, %s) as n
"""


def python_pace(pairs: int = PYTHON_PAIRS) -> float:
    """Microseconds of process CPU time a word pair counted."""
    rng = random.Random(0)
    words = ["".join(rng.choices("etaoinshrdlu", k=rng.randint(2, 9))) for _ in range(10_000)]
    passes = max(1, pairs // len(words))
    started = time.process_time()
    for _ in range(passes):
        counts: dict[str, int] = {}
        for first, second in pairwise(words):
            pair = first + " " + second
            counts[pair] = counts.get(pair, 0) + 1
    return (time.process_time() - started) / (passes * (len(words) - 1)) * 1e6


def server_pace(conn: psycopg.Connection, texts: int = SERVER_TEXTS) -> float:
    """Microseconds the server takes over one fixed text's search document."""
    started = time.perf_counter()
    conn.execute(SERVER_WORK, [texts]).fetchone()
    return (time.perf_counter() - started) / texts * 1e6

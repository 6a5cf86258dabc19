"""The keyword extractor (pure) and the keyword step on a real warehouse."""

from __future__ import annotations

import gc
import itertools
import re
import weakref
from hashlib import md5

import psycopg
import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from orchestration import features
from orchestration.features import (
    COPY_KEYWORDS,
    BatchDone,
    extract_pending,
    keyword_row,
    settled,
)
from orchestration.ingest.batch import ingest_paths
from orchestration.keywords.calibrate import CalibrationError, calibrate
from orchestration.keywords.copy_format import arrays_of, keyword_arrays
from orchestration.keywords.extract import (
    BREAKERS,
    KEYWORDS_PER_PAPER,
    SPACE,
    TERM_BOOST,
    TITLE_NAME_BOOST,
    Keyword,
    _break_phrases,
    _split_at_spaces,
    candidates,
    is_name,
    keywords,
    singular,
    title_name,
)
from orchestration.keywords.vocabulary import (
    DOCUMENT_FREQUENCY_FILE,
    load_vocabulary,
    write_document_frequency,
)
from orchestration.pipeline import build
from orchestration.settings import DBT_PROJECT_DIR

from conftest import ANY_TEXT, SEED_DISTINCT_TITLES

VOCABULARY = load_vocabulary()


def phrases(title: str, abstract: str) -> list[str]:
    return [k.keyword for k in keywords(title, abstract, VOCABULARY)]


# ---------- the rule


def test_singular_by_rule():
    cases = {
        "models": "model",
        "strategies": "strategy",
        "approaches": "approach",
        "matrices": "matrix",
        "hypotheses": "hypothesis",
        "criteria": "criterion",
        "series": "series",
        "bias": "bias",
        "dynamics": "dynamics",
        "boxes": "box",
        "days": "day",
        "gas": "gas",
        "class": "class",
    }
    assert {word: singular(word) for word in cases} == cases


def test_a_phrase_never_crosses_punctuation_or_a_function_word():
    found = candidates(
        "Sparse attention", "Sparse attention, graph pruning; and the token budget.", VOCABULARY
    )
    assert "sparse attention" in found and "graph pruning" in found and "token budget" in found
    assert not any(phrase in found for phrase in ("attention graph", "pruning token", "the token"))


def test_a_word_that_can_only_be_a_verb_stands_in_a_phrase_only_as_gerund_or_first_participle():
    found = candidates(
        "Supervised learning",
        "Semantic dependencies encoded here. Hypernetworks posit token graphs. "
        "Latent reasoning and speculative decoding. Three attention heads.",
        VOCABULARY,
    )
    # a gerund ends a phrase; a participle opens one
    assert {"supervised learning", "latent reasoning", "speculative decoding"} <= found.keys()
    # a participle or a finite verb neither ends nor continues one; a number word opens none
    assert "semantic dependency" in found and "token graph" in found
    assert not [p for p in found if p.endswith(("encoded", "posit")) or " posit" in p]
    assert not [p for p in found if p.startswith("three")]
    assert "attention head" in found


def test_a_term_other_papers_use_outranks_a_one_off_turn_of_phrase():
    # both occur once; the reference corpus knows one as a phrase of several papers
    term = min(
        (
            p
            for p in VOCABULARY.document_frequency
            if p.count(" ") == 1 and p.replace(" ", "").isalpha()
        ),
        key=lambda p: (VOCABULARY.document_frequency[p], p),
    )
    one_off = "zebrine quokka"
    assert one_off not in VOCABULARY.document_frequency
    ranked = phrases("A study", f"We study {term}. Then {one_off}.")
    assert ranked.index(term) < ranked.index(one_off)


def test_a_phrase_beside_itself_plus_a_generic_word_is_no_term():
    assert "large language" in VOCABULARY.document_frequency  # a term, by the reference

    def score(abstract: str) -> float:
        [found] = [k for k in keywords("A", abstract, VOCABULARY) if k.keyword == "large language"]
        return found.score

    # twice each time; beside `large language model`, as often, it gets no term weight
    beside = score("Large language models help. Large language models scale.")
    alone = score("Large language, then more. Large language, again.")
    assert beside * TERM_BOOST == pytest.approx(alone, rel=1e-3)


def test_the_key_is_lower_case_with_the_last_word_singular():
    assert "state space model" in phrases(
        "State Space Models", "We scale State Space Models to video."
    )


def shown(title: str, abstract: str) -> dict[str, str]:
    return {k.keyword: k.display for k in keywords(title, abstract, VOCABULARY)}


def test_the_display_form_is_how_the_paper_writes_it():
    found = shown(
        "LoRA: Low-Rank Adaptation of Large Language Models",
        "We propose Low-Rank Adaptation, or LoRA, which freezes the pre-trained weights. "
        "Large language models such as GPT-3 are costly. LoRA matches Mamba-2 and BERT models.",
    )
    assert found["lora"] == "LoRA"
    assert found["gpt-3"] == "GPT-3"
    assert found["mamba-2"] == "Mamba-2"
    assert found["bert model"] == "BERT model"  # written plural, shown singular as the key
    # the capitals of a sentence's first word and of a title's Title Case are dropped
    assert found["large language model"] == "large language model"
    # a name the paper capitalizes mid-sentence keeps its capitals
    assert found["low-rank adaptation"] == "Low-Rank Adaptation"


def test_a_name_before_the_titles_colon_is_boosted_and_shown_as_the_title_writes_it():
    abstract = (
        "Time series forecasting needs long horizons. Decomposition transformers help. "
        "Auto-correlation mechanisms find periods. Autoformer is accurate on time series."
    )
    named = {k.keyword: k for k in keywords("Autoformer: Decomposition", abstract, VOCABULARY)}
    plain = {k.keyword: k for k in keywords("Autoformer, Decomposition", abstract, VOCABULARY)}
    assert named["autoformer"].score == pytest.approx(
        plain["autoformer"].score * TITLE_NAME_BOOST, rel=1e-3
    )
    assert named["autoformer"].display == "Autoformer"
    assert plain["autoformer"].display == "autoformer"  # only ever Title Case or sentence case
    assert named["auto-correlation mechanism"].display == "auto-correlation mechanism"


def test_a_title_with_only_invisible_characters_before_its_colon_names_nothing():
    # A soft hyphen is a word to str.split and nothing once folded. The rule must still
    # give keywords: one listing it fails on stops the features step, and every run after.
    abstract = "Sparse things help retrieval. We study sparse things in long documents."
    assert title_name("\xad: Sparse Things") is None
    assert title_name("\u200b\xad \ufeff: Sparse Things") is None
    assert keywords("\xad: Sparse Things", abstract, VOCABULARY) == keywords(
        "Sparse Things", abstract, VOCABULARY
    )
    assert title_name("Auto\xadformer: Sparse Things") == "autoformer"


def test_x_of_y_when_both_are_whole_runs_and_x_does_not_merely_count():
    found = candidates("t", "We train a mixture of experts. A number of experts helps.", VOCABULARY)
    assert "mixture of experts" in found
    assert "number of experts" not in found


def test_names_as_written_score_above_common_words():
    ranked = phrases("GSM8K results", "GSM8K problems need arithmetic. Arithmetic is hard.")
    assert ranked.index("gsm8k") < ranked.index("arithmetic")


def test_urls_are_not_keywords():
    assert not any(
        "http" in phrase or "example" in phrase
        for phrase in phrases(
            "Link test", "Code at https://example.org/repo/tree. Graph pruning works."
        )
    )


def test_a_papers_keywords_depend_on_its_own_text_alone():
    first = keywords("Graph Pruning", "Graph pruning removes edges from sparse graphs.", VOCABULARY)
    candidates("Other", "Completely unrelated text about protein folding.", VOCABULARY)
    assert (
        keywords("Graph Pruning", "Graph pruning removes edges from sparse graphs.", VOCABULARY)
        == first
    )


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80), st.text(max_size=600))
@example("\xad:", "")  # a soft hyphen alone before a colon: a word to split, none folded
def test_any_text_gives_at_most_ten_ranked_lower_case_phrases(title, abstract):
    found = keywords(title, abstract, VOCABULARY)
    assert len(found) <= KEYWORDS_PER_PAPER
    assert [k.rank for k in found] == list(range(1, len(found) + 1))
    assert all(a.score >= b.score for a, b in itertools.pairwise(found))
    for k in found:
        assert k.keyword == k.keyword.lower() == k.keyword.strip() and k.keyword
        assert k.score > 0 and k.occurrences >= 1
        # the display form is the key's words as written: case aside, the same
        assert k.display.lower() == k.keyword or (
            len(k.display.split(" ")) == len(k.keyword.split(" "))
        ), k


def test_no_keyword_of_a_sample_paper_is_a_stop_word_alone(sample_db):
    # (was the dbt test assert_no_keyword_is_a_stop_word_alone, when the word lists were seeds)
    stop_words = VOCABULARY.function_words | VOCABULARY.generic_words
    with psycopg.connect(sample_db) as conn:
        found = {
            k for (k,) in conn.execute("select distinct keyword from analytics.fct_paper_keywords")
        }
    assert len(found) > 1_000
    assert not found & stop_words


def test_the_dbt_project_agrees_on_keywords_per_paper():
    project = yaml.safe_load((DBT_PROJECT_DIR / "dbt_project.yml").read_text())
    assert project["vars"]["keywords_per_paper"] == KEYWORDS_PER_PAPER


# ---------- the step on a warehouse


def test_calibrating_on_the_samples_reproduces_the_committed_reference(sample_db, tmp_path):
    written = tmp_path / "document_frequency.csv"
    phrases_written = calibrate(sample_db, written)
    assert written.read_text() == DOCUMENT_FREQUENCY_FILE.read_text()
    assert phrases_written == len(DOCUMENT_FREQUENCY_FILE.read_text().splitlines()) - 1
    assert written.read_text().splitlines()[1].endswith(f",{SEED_DISTINCT_TITLES}")


def test_a_calibration_that_cannot_write_the_reference_says_so(sample_db, tmp_path):
    with pytest.raises(CalibrationError, match=r"cannot write the reference .*left as it was"):
        calibrate(sample_db, tmp_path / "no such folder" / "document_frequency.csv")


class WriterStopped(Exception):
    pass


class CountsThatStopHalfWay(dict):
    """Phrase counts whose writer is stopped half-way through them, as a kill would stop it."""

    def __getitem__(self, phrase: str) -> int:
        if phrase >= "phrase 05000":
            raise WriterStopped
        return super().__getitem__(phrase)


def test_a_calibration_stopped_half_way_leaves_the_reference_as_it_was(tmp_path):
    reference = tmp_path / "document_frequency.csv"
    reference.write_bytes(DOCUMENT_FREQUENCY_FILE.read_bytes())
    counts = CountsThatStopHalfWay({f"phrase {i:05}": 2 for i in range(10_000)})
    with pytest.raises(WriterStopped):
        write_document_frequency(counts, 99, reference)
    assert reference.read_bytes() == DOCUMENT_FREQUENCY_FILE.read_bytes()
    assert list(tmp_path.iterdir()) == [reference]  # nothing half-written left beside it
    write_document_frequency({"phrase": 2}, 99, reference)
    vocabulary = load_vocabulary(reference=reference)
    assert vocabulary.document_frequency == {"phrase": 2} and vocabulary.corpus_documents == 99
    assert reference.stat().st_mode & 0o777 == 0o644


KEYWORD = st.builds(
    Keyword,
    keyword=ANY_TEXT,
    score=st.floats(allow_nan=False, allow_infinity=False),
    rank=st.integers(1, 10),
    in_title=st.booleans(),
    occurrences=st.integers(-(2**31), 2**31 - 1),
    display=ANY_TEXT,
)


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.lists(KEYWORD, max_size=12), min_size=1, max_size=5))
def test_keyword_rows_reach_the_table_as_they_were(conn, papers):
    # The COPY line is written by hand: quotes, backslashes, tabs, line breaks, braces and
    # commas in a keyphrase must arrive as themselves, one array element each.
    conn.execute(
        "create temp table if not exists listing_keywords (like features.listing_keywords)"
    )
    conn.execute("truncate listing_keywords")
    with conn.cursor().copy(COPY_KEYWORDS.replace("features.", "")) as copy:
        for position, found in enumerate(papers, start=1):
            digest = md5(b"%d" % position).hexdigest()
            copy.write(keyword_row(7, position, arrays_of(found), digest))
    stored = conn.execute(
        "select position, keywords, scores, in_title, occurrences, display_keywords,"
        " text_digest = md5(position::text)::uuid from listing_keywords order by position"
    ).fetchall()
    assert stored == [
        (
            position,
            [k.keyword for k in found],
            [k.score for k in found],
            [k.in_title for k in found],
            [k.occurrences for k in found],
            [k.display for k in found],
            True,
        )
        for position, found in enumerate(papers, start=1)
    ]


def keyword_rows(conn):
    return conn.execute(
        "select file_id, position, keywords, scores from features.listing_keywords order by 1, 2"
    ).fetchall()


def test_worker_processes_extract_what_one_process_does(db_url, conn, inbox, sample_db):
    ingest_paths(db_url, [inbox], settle_seconds=0)
    summary = extract_pending(db_url, workers=2, parallel_threshold=0)
    assert (summary.files, summary.reextracted_files) == (5, 0)
    with psycopg.connect(sample_db) as sample:
        expected = [row[2:] for row in keyword_rows(sample)]
    assert [row[2:] for row in keyword_rows(conn)] == expected  # file ids differ, order does not
    assert extract_pending(db_url).files == 0  # nothing left pending


def test_a_batch_freezes_what_survives_it_but_not_its_garbage_and_the_step_thaws_it(db_url, inbox):
    class Node:
        pass

    cycle = Node()
    cycle.itself = cycle
    garbage = weakref.ref(cycle)
    survivor = Node()
    del cycle
    try:
        settled(BatchDone(listings=1, copied=0))
        assert garbage() is None  # collected before the freeze, not kept for good
        # frozen: no generation the collector walks holds it
        assert not any(tracked is survivor for tracked in gc.get_objects())
    finally:
        gc.unfreeze()
    ingest_paths(db_url, [inbox], settle_seconds=0)
    assert extract_pending(db_url, workers=1).files == 5
    assert gc.get_freeze_count() == 0  # the caller's heap is collected as usual again


def test_a_relisted_text_has_its_features_copied_as_they_would_be_computed(db_url, conn, inbox):
    # Two days' inboxes: the second day's relisted papers are copied from the first day's,
    # and a text listed twice in one day's batch is computed once.
    first_day = sorted(inbox.iterdir())[:2]
    ingest_paths(db_url, first_day, settle_seconds=0)
    first_day_listings = conn.execute("select title, abstract from raw.paper_listings").fetchall()
    twice_in_first_day = len(first_day_listings) - len(set(first_day_listings))
    assert twice_in_first_day > 0
    assert extract_pending(db_url).copied_listings == twice_in_first_day
    ingest_paths(db_url, [inbox], settle_seconds=0)
    first_day_texts = set(
        conn.execute(
            "select title, abstract from raw.paper_listings where file_id in"
            " (select file_id from features.extracted_files)"
        ).fetchall()
    )
    second_day = conn.execute(
        "select title, abstract from raw.paper_listings where file_id not in"
        " (select file_id from features.extracted_files)"
    ).fetchall()
    relisted = sum(1 for text in second_day if text in first_day_texts)
    new_texts = [text for text in second_day if text not in first_day_texts]
    twice_in_second_day = len(new_texts) - len(set(new_texts))
    # A forged md5 collision: a first-day listing claims the digest of a new second-day text.
    new_title, new_abstract = next(text for text in second_day if text not in first_day_texts)
    conn.execute(
        "update features.listing_keywords set text_digest = md5(%s || E'\\n' || %s)::uuid"
        " where (file_id, position) = (select file_id, position from features.listing_keywords"
        " order by file_id, position limit 1)",
        [new_title, new_abstract],
    )

    summary = extract_pending(db_url)
    conn.execute(  # the forgery undone, so that every digest is checked below
        "update features.listing_keywords as keywords"
        " set text_digest = md5(title || E'\\n' || abstract)::uuid"
        " from raw.paper_listings as listing"
        " where (listing.file_id, listing.position) = (keywords.file_id, keywords.position)"
    )

    assert relisted > 0 and summary.copied_listings == relisted + twice_in_second_day
    stored = conn.execute(
        """
        select listing.title, listing.abstract, keywords.keywords, keywords.scores,
            keywords.display_keywords, keywords.text_digest = md5(title || E'\\n' || abstract)::uuid,
            documents.search_document = setweight(to_tsvector('english', title), 'A')
                || setweight(to_tsvector('english', abstract), 'B')
        from raw.paper_listings as listing
        join features.listing_keywords as keywords using (file_id, position)
        join features.listing_search_documents as documents using (file_id, position)
        """
    ).fetchall()
    assert len(stored) == conn.execute("select count(*) from raw.paper_listings").fetchone()[0]
    for title, abstract, *stored_features, digest_matches, document_matches in stored:
        found = keywords(title, abstract, VOCABULARY)
        assert stored_features == [
            [k.keyword for k in found],
            [k.score for k in found],
            [k.display for k in found],
        ]
        assert digest_matches and document_matches


def test_a_source_deleted_while_its_copy_is_made_rolls_the_batch_back(
    db_url, conn, inbox, monkeypatch
):
    first_day = sorted(inbox.iterdir())[:2]
    ingest_paths(db_url, first_day, settle_seconds=0)
    extract_pending(db_url)
    ingest_paths(db_url, [inbox], settle_seconds=0)
    first_day_ids = [row[0] for row in conn.execute("select file_id from features.extracted_files")]

    def arrays_while_the_first_day_is_deleted(*args, **kwargs):
        # after the listings (and their sources) were read, before the copies are made
        conn.execute("delete from raw.ingested_files where file_id = any(%s)", [first_day_ids])
        return keyword_arrays(*args, **kwargs)

    monkeypatch.setattr(features, "keyword_arrays", arrays_while_the_first_day_is_deleted)
    with pytest.raises(RuntimeError, match="lost the earlier listing of the same text"):
        extract_pending(db_url)
    monkeypatch.undo()

    # nothing of the batch was kept; the next run extracts it, computing what it cannot copy
    # (a text listed twice in the batch, once)
    assert conn.execute("select count(*) from features.extracted_files").fetchone()[0] == 0
    texts = conn.execute(
        "select title, abstract from raw.paper_listings join raw.ingested_files using (file_id)"
    ).fetchall()
    summary = extract_pending(db_url)
    assert (summary.files, summary.copied_listings) == (3, len(texts) - len(set(texts)))
    assert conn.execute(
        "select count(*) from raw.paper_listings as listing"
        " join raw.ingested_files using (file_id)"
        " left join features.listing_keywords as keywords using (file_id, position)"
        " where keywords.file_id is null"
    ).fetchone() == (0,)


def features_by_file(conn) -> dict[str, dict[int, int]]:
    return {
        table: dict(
            conn.execute(f"select file_id, count(*) from features.{table} group by file_id")
        )
        for table in ("listing_keywords", "listing_search_documents")
    }


def test_deleting_extractions_deletes_their_features_as_the_foreign_keys_did(db_url, conn, inbox):
    # The features tables have no foreign keys (sql/migrations/013): triggers cascade instead.
    ingest_paths(db_url, [inbox], settle_seconds=0)
    extract_pending(db_url)
    before = features_by_file(conn)
    first, second, *others = sorted(before["listing_keywords"])

    conn.execute("delete from features.extracted_files where file_id = %s", [first])
    # through the ledger's own cascade to the extraction row
    conn.execute("delete from raw.ingested_files where file_id = %s", [second])

    kept = {
        table: {f: n for f, n in counts.items() if f in others} for table, counts in before.items()
    }
    assert features_by_file(conn) == kept and all(kept.values())
    conn.execute("truncate features.extracted_files")
    assert features_by_file(conn) == {"listing_keywords": {}, "listing_search_documents": {}}
    # what is gone is extracted again, but for the file gone from the ledger
    assert extract_pending(db_url).files == 1 + len(others)


def analyzed_at(conn: psycopg.Connection, table: str):
    schema, name = table.split(".")
    return conn.execute(
        "select last_analyze from pg_stat_user_tables where schemaname = %s and relname = %s",
        [schema, name],
    ).fetchone()[0]


def test_the_features_step_analyzes_a_first_load_first_and_not_a_trickle(db_url, conn, inbox):
    # Planned without statistics, a first load's features step costs about a quarter more.
    ingest_paths(db_url, [inbox], settle_seconds=0)
    assert analyzed_at(conn, "raw.paper_listings") is None
    extract_pending(db_url)
    analyzed = {table: analyzed_at(conn, table) for table in features.READ_TABLES}
    assert all(analyzed.values())
    # a few new listings beside the many the statistics know of: nothing to renew
    listings = conn.execute("select count(*) from raw.paper_listings").fetchone()[0]
    assert not features.analyze_if_stale(conn, int(listings * features.STALE_SHARE))
    assert {table: analyzed_at(conn, table) for table in features.READ_TABLES} == analyzed
    assert features.analyze_if_stale(conn, int(listings * features.STALE_SHARE) + 1)


def test_a_changed_extractor_reextracts_and_rebuilds_in_full(db_url, conn, inbox):
    ingest_paths(db_url, [inbox], settle_seconds=0)
    assert build(db_url, quiet=True).succeeded
    before = conn.execute(
        "select paper_id, keyword, score from analytics.fct_paper_keywords order by 1, 2"
    ).fetchall()
    # As if the features and the marts came from an older rule.
    conn.execute("update features.extracted_files set extractor_version = 'an older rule'")
    conn.execute("update meta.builds set extractor_version = 'an older rule'")
    conn.execute(
        "delete from analytics.fct_paper_keywords where rank = 1"
    )  # the marts' stale state

    summary = build(db_url, quiet=True)

    assert summary.succeeded and summary.full_refresh
    assert summary.extraction is not None and summary.extraction.reextracted_files == 5
    after = conn.execute(
        "select paper_id, keyword, score from analytics.fct_paper_keywords order by 1, 2"
    ).fetchall()
    assert after == before


@settings(max_examples=2000, deadline=None)
@given(
    st.text(
        alphabet=st.sampled_from(
            ["a", "é", " ", "\t", "\n", "\u00a0", "\u2028", "\x1c", "\u200b", "|"]
        )
    )
)
def test_words_are_cut_at_the_white_space_the_regular_expression_cuts_at(text):
    assert _split_at_spaces(text) == SPACE.split(text)


# is_name's statement as one pattern: a letter then a digit, or a digit then a letter.
NAME_AS_ONE_PATTERN = re.compile(r"[^\W\d_].*[0-9]|[0-9].*[^\W\d_]")


@settings(max_examples=3000, deadline=None)
@given(
    st.one_of(
        ANY_TEXT,
        st.text(alphabet=st.sampled_from(["a", "B", "é", "Ж", "7", "٣", "²", "_", "-", "'"])),
    ).map(lambda text: "".join(text.split()))  # a word: no white space
)
def test_a_name_is_a_word_with_two_capitals_or_a_letter_and_a_digit(word):
    two_capitals = sum(ch.isupper() for ch in word) >= 2
    assert is_name(word) == (two_capitals or NAME_AS_ONE_PATTERN.search(word) is not None)


@settings(max_examples=3000, deadline=None)
@given(
    st.text(
        alphabet=st.sampled_from(
            ["a", "B", ".", " ", "\n", "\u00a0", "-", "–", "—", ",", "|", "(", "/", "’"]
        )
    )
)
def test_phrases_break_where_the_one_regular_expression_breaks_them(text):
    # _break_phrases may leave more white space than BREAKERS.sub; the words cut from it,
    # the empty pieces at either end included, must be the same.
    assert _split_at_spaces(_break_phrases(text)) == _split_at_spaces(BREAKERS.sub(" | ", text))

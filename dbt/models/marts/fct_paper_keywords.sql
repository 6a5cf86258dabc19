-- Up to ten keyphrases per paper, scored by TF-IDF over candidate phrases.
--
-- score = (abstract occurrences + title weight x title occurrences)
--         x idf x (1 + length boost x (words - 1)) x form penalty
-- idf    = ln((N + 1) / (df + 1)) + 1, with df and N from the reference
--          corpus (seed keyword_document_frequency, `paperhouse calibrate`).
-- A fixed reference makes a paper's keywords a function of its own text, so
-- incremental builds touch only the papers new files touched and still equal
-- a full refresh. See README, "Keywords".

{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='paper_id',
        indexes=[
            {'columns': ['paper_id', 'keyword'], 'unique': true},
            {'columns': ['keyword']},
            {'columns': ['last_ingest_seq']},
        ],
    )
}}

with

papers as (

    select
        paper_id,
        title,
        abstract,
        last_ingest_seq,
        date_trunc(
            'month', coalesce(published_on, (first_seen_at at time zone 'UTC')::date)
        )::date as trend_month
    from {{ ref('dim_papers') }}

    {% if is_incremental() %}
    where last_ingest_seq > {{ ingest_seq_watermark('last_ingest_seq') }}
    {% endif %}

),

{{ keyword_candidates('papers') }},

reference as (

    select * from {{ ref('keyword_document_frequency') }}

),

corpus as (

    -- an empty reference scores by term frequency alone
    select coalesce(max(corpus_documents), 1) as documents from reference

),

scored as (

    select
        keyword_candidates.paper_id,
        keyword_candidates.phrase as keyword,
        round((
            (keyword_candidates.abstract_occurrences
                + {{ var('keyword_title_weight') }} * keyword_candidates.title_occurrences)
            * (ln((corpus.documents + 1.0) / (coalesce(reference.document_count, 1) + 1.0)) + 1.0)
            * (1.0 + {{ var('keyword_length_boost') }} * (keyword_candidates.word_count - 1))
            * case
                -- a name as written (DeltaNet, GSM8K) is what a reader searches for
                when keyword_candidates.is_named then {{ var('keyword_name_boost') }}
                -- a lone adjective (causal, modular) rarely is
                when keyword_candidates.word_count = 1
                    and keyword_candidates.phrase ~ '(al|ive|ous|ful|less|able|ible)$' then 0.5
                -- nor a lone common word, which mostly stands inside longer phrases
                when keyword_candidates.word_count = 1 then {{ var('keyword_unigram_weight') }}
                -- `X of Y` is a keyphrase far less often than it is a turn of phrase
                when keyword_candidates.phrase like '% of %' then {{ var('keyword_of_weight') }}
                -- nor a phrase led by a verb form (unlocking latent reasoning)
                when keyword_candidates.phrase ~ '^[a-z-]+ing ' then 0.6
                else 1.0
            end
        )::numeric, 4)::numeric(14, 4) as score,
        keyword_candidates.title_occurrences > 0 as in_title,
        keyword_candidates.title_occurrences + keyword_candidates.abstract_occurrences as occurrences
    from keyword_candidates
    cross join corpus
    left join reference on reference.phrase = keyword_candidates.phrase

),

ranked as (

    select
        *,
        row_number() over (partition by paper_id order by score desc, keyword)::integer as rank
    from scored

)

select
    ---------- ids
    ranked.paper_id,
    ranked.keyword,

    ---------- the score
    ranked.score,
    ranked.rank,
    ranked.in_title,
    ranked.occurrences,

    ---------- for trends and increments
    papers.trend_month,
    papers.last_ingest_seq

from ranked
inner join papers on papers.paper_id = ranked.paper_id
where ranked.rank <= {{ var('keywords_per_paper') }}

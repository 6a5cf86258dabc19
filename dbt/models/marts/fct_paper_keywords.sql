-- Up to ten keyphrases per paper: those the extractor found in the listing
-- the paper's abstract comes from (its fullest text). The extractor runs in
-- Python before the build (orchestration/keywords) with a fixed reference
-- IDF, so a paper's keywords are a function of its own text: incremental
-- builds touch only the papers new files touched and still equal a full
-- refresh. See README, "Keywords".

{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='paper_id',
        indexes=[
            {'columns': ['paper_id', 'keyword'], 'unique': true},
            {'columns': ['keyword', 'trend_month']},
            {'columns': ['last_ingest_seq']},
        ],
    )
}}

with

papers as (

    select
        paper_id,
        abstract_file_id,
        abstract_position,
        last_ingest_seq,
        date_trunc(
            'month', coalesce(published_on, (first_seen_at at time zone 'UTC')::date)
        )::date as trend_month
    from {{ ref('dim_papers') }}

    {% if is_incremental() %}
    where last_ingest_seq > {{ ingest_seq_watermark('last_ingest_seq') }}
    {% endif %}

),

listing_keywords as (

    select * from {{ ref('stg_features__listing_keywords') }}

)

select
    ---------- ids
    papers.paper_id,
    keyword.keyword,

    ---------- the score
    keyword.score::numeric(14, 4) as score,
    keyword.rank::integer as rank,
    keyword.in_title,
    keyword.occurrences,

    ---------- for trends and increments
    papers.trend_month,
    papers.last_ingest_seq

from papers
inner join listing_keywords
    on listing_keywords.file_id = papers.abstract_file_id
    and listing_keywords.position = papers.abstract_position
cross join lateral
    unnest(listing_keywords.keywords, listing_keywords.scores,
           listing_keywords.in_title, listing_keywords.occurrences)
        with ordinality as keyword (keyword, score, in_title, occurrences, rank)

-- Up to ten keyphrases per paper: those the extractor found in the listing
-- the paper's abstract comes from (its fullest text). The extractor runs in
-- Python before the build (orchestration/keywords) with a fixed reference
-- IDF, so a paper's keywords are a function of its own text: incremental
-- builds touch only the papers new files touched and still equal a full
-- refresh. See docs/keywords.md.

{{
    config(
        unique_key='paper_id',
        indexes=[
            {'columns': ['paper_id', 'keyword'], 'unique': true},
            {'columns': ['keyword', 'trend_month']},
            {'columns': ['last_ingest_seq']},
        ],
        pre_hook=[
            "{% if is_incremental() %}"
            "delete from {{ this }} as facts using {{ ref('dim_papers') }} as papers"
            " where facts.paper_id = papers.paper_id"
            " and papers.last_ingest_seq > {{ ingest_seq_watermark('last_ingest_seq') }}"
            "{% endif %}"
        ],
    )
}}

-- The pre-hook takes away every touched paper's facts, in the build's
-- transaction: delete+insert replaces only the papers that still have
-- keywords, and a paper whose newest text gives none would keep its old ones.

with

{{ keyword_papers() }},

listing_keywords as (

    select * from {{ ref('stg_features__listing_keywords') }}

)

select
    ---------- ids
    papers.paper_id,
    listing_keywords.keywords[keyword_rank] as keyword,
    listing_keywords.display_keywords[keyword_rank] as display_keyword,

    ---------- the score, to four decimals (rounded as a double: a cast to
    ---------- numeric costs a third of this model's select)
    round(listing_keywords.scores[keyword_rank] * 10000) / 10000 as score,
    keyword_rank as rank,
    listing_keywords.in_title[keyword_rank] as in_title,
    listing_keywords.occurrences[keyword_rank] as occurrences,

    ---------- for trends and increments
    papers.trend_month,
    papers.last_ingest_seq

from papers
inner join listing_keywords
    on listing_keywords.file_id = papers.abstract_file_id
    and listing_keywords.position = papers.abstract_position
-- The arrays are parallel (a check constraint on the features table) and in
-- rank order; subscripts rather than unnest of four arrays, which PostgreSQL
-- runs as four functions zipped together.
cross join lateral generate_subscripts(listing_keywords.keywords, 1) as keyword_rank

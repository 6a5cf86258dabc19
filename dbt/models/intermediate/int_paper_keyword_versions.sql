-- Each version of a paper's keyword set: one row per paper and build that
-- touched it. The keyword marts read the version before the newest to learn
-- which keywords a changed paper gave up (a new title variant or a longer
-- abstract can change them), so they stay exact without rescanning.

{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        indexes=[{'columns': ['paper_id', 'last_ingest_seq'], 'unique': true}],
        post_hook=["{% if not is_incremental() %}analyze {{ this }}{% endif %}"],
    )
}}

with

papers as (

    select paper_id, last_ingest_seq
    from {{ ref('dim_papers') }}

    {% if is_incremental() %}
    where last_ingest_seq > {{ ingest_seq_watermark('last_ingest_seq') }}
    {% endif %}

),

keywords as (

    select * from {{ ref('fct_paper_keywords') }}

)

select
    papers.paper_id,
    papers.last_ingest_seq,
    min(keywords.trend_month) as trend_month,
    coalesce(
        array_agg(keywords.keyword order by keywords.keyword)
            filter (where keywords.keyword is not null),
        '{}'
    ) as keywords
from papers
left join keywords on keywords.paper_id = papers.paper_id
group by papers.paper_id, papers.last_ingest_seq

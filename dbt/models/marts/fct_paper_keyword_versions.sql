-- Each version of a paper's keyword set: one row per paper and build that
-- touched it. The keyword marts read the version before the newest to learn
-- which keywords a changed paper gave up, so they stay exact without
-- rescanning.
--
-- A paper's keywords are those of the listing its abstract comes from, as
-- in fct_paper_keywords, read here from the features' arrays (one row a
-- paper) rather than grouped back from the facts (ten rows a paper): it
-- costs less than half as much, and it need not wait for fct_paper_keywords.

{{
    config(
        indexes=[{'columns': ['paper_id', 'last_ingest_seq'], 'unique': true}],
    )
}}

with

{{ keyword_papers() }},

listing_keywords as (

    select * from {{ ref('stg_features__listing_keywords') }}

)

select
    papers.paper_id,
    papers.last_ingest_seq,
    papers.trend_month,
    -- the listing read: dim_keywords finds there the form the paper wrote
    -- each keyword in, which the next version may write otherwise
    papers.abstract_file_id,
    papers.abstract_position,
    -- sorted, so that two versions compare as sets (empty, not null, without keywords)
    array(
        select keyword from unnest(listing_keywords.keywords) as keyword
        order by keyword
    ) as keywords

from papers
-- left: a paper whose listing the features step missed has no keywords (a
-- dbt test names it)
left join listing_keywords
    on listing_keywords.file_id = papers.abstract_file_id
    and listing_keywords.position = papers.abstract_position

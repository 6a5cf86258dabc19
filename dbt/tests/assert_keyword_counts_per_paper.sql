-- At most keywords_per_paper keywords a paper, and at least 3 for a paper
-- whose abstract has 50 words or more (the papers this build wrote).

-- shown in Dagster as a check of the model it guards
{{ config(meta={"dagster": {"ref": {"name": "fct_paper_keywords"}}}) }}

with

papers as (

    select paper_id, abstract
    from {{ ref('dim_papers') }}
    where {{ built_this_run('last_ingest_seq') }}

),

counts as (

    select
        papers.paper_id,
        -- words as spaces + 1: splitting every abstract with a regex was most
        -- of this test's cost at a million papers
        length(papers.abstract) - length(replace(papers.abstract, ' ', '')) + 1 as abstract_words,
        count(keywords.keyword) as keyword_count
    from papers
    left join {{ ref('fct_paper_keywords') }} as keywords on keywords.paper_id = papers.paper_id
    group by papers.paper_id, papers.abstract

)

select *
from counts
where keyword_count > {{ var('keywords_per_paper') }}
    or (abstract_words >= 50 and keyword_count < 3)

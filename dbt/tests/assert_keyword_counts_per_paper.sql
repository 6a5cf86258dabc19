-- At most keywords_per_paper keywords a paper, and at least 3 for a paper
-- whose abstract has 50 words or more (the papers this build wrote).
--
-- A warning, not an error: an abstract of 50 words may hold no phrase worth
-- a keyword (symbols, stop words, a language the lists do not know), and
-- the data is the user's, never a reason to stop the build. The upper bound
-- is also held by fct_paper_keywords.rank, which is tested as an error.

-- shown in Dagster as a check of the model it guards
{{ config(severity='warn', meta={"dagster": {"ref": {"name": "fct_paper_keywords"}}}) }}

with

papers as (

    select
        paper_id,
        -- words as spaces + 1: splitting every abstract with a regex would be
        -- most of this test's cost
        length(abstract) - length(replace(abstract, ' ', '')) + 1 as abstract_words
    from {{ ref('dim_papers') }}
    where {{ built_this_run('last_ingest_seq') }}

),

-- counted on their own and joined after: grouping the joined rows would
-- carry every abstract through the aggregate of ten rows a paper
keyword_counts as (

    select
        paper_id,
        count(*) as keyword_count
    from {{ ref('fct_paper_keywords') }}
    -- a paper's keyword rows carry its last_ingest_seq
    where {{ built_this_run('last_ingest_seq') }}
    group by paper_id

)

select
    papers.paper_id,
    papers.abstract_words,
    coalesce(keyword_counts.keyword_count, 0) as keyword_count
from papers
left join keyword_counts on keyword_counts.paper_id = papers.paper_id
where keyword_counts.keyword_count > {{ var('keywords_per_paper') }}
    -- the count first: PostgreSQL evaluates AND in the order written, so the
    -- words are counted only for the rare paper with fewer than 3 keywords
    or (coalesce(keyword_counts.keyword_count, 0) < 3 and papers.abstract_words >= 50)

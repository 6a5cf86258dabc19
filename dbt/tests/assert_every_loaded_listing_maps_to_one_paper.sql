-- Every listing of a loaded file appears in fct_paper_listings exactly once,
-- and the papers' listing counts add up to the raw listings.

-- shown in Dagster as a check of the model it guards
{{ config(meta={"dagster": {"ref": {"name": "fct_paper_listings"}}}) }}

with

raw_listings as (

    select count(*) as n from {{ source('raw', 'paper_listings') }}

),

facts as (

    select count(*) as n, count(distinct (file_id, position)) as distinct_n
    from {{ ref('fct_paper_listings') }}

),

papers as (

    select coalesce(sum(listing_count), 0) as n from {{ ref('dim_papers') }}

)

select raw_listings.n as raw_n, facts.n as fact_n, facts.distinct_n, papers.n as paper_n
from raw_listings, facts, papers
where not (raw_listings.n = facts.n and facts.n = facts.distinct_n and facts.n = papers.n)

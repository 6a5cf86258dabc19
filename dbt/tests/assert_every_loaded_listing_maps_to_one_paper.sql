-- Every listing of a loaded file appears in fct_paper_listings exactly once,
-- and each paper's listing count is the number of its listings: for the
-- files and papers this build wrote (all of them on a full build).

-- shown in Dagster as a check of the model it guards
{{ config(meta={"dagster": {"ref": {"name": "fct_paper_listings"}}}) }}

with

new_files as (

    select file_id
    from {{ source('raw', 'ingested_files') }}
    where status = 'loaded' and {{ built_this_run('ingest_seq') }}

),

raw_listings as (

    select count(*) as n
    from {{ source('raw', 'paper_listings') }}
    where file_id in (select file_id from new_files)

),

facts as (

    select count(*) as n, count(distinct (file_id, position)) as distinct_n
    from {{ ref('fct_paper_listings') }}
    where {{ built_this_run('ingest_seq') }}

),

miscounted_papers as (

    select count(*) as n
    from {{ ref('dim_papers') }} as papers
    where {{ built_this_run('papers.last_ingest_seq') }}
        and papers.listing_count <> (
            select count(*) from {{ ref('fct_paper_listings') }} as listings
            where listings.paper_id = papers.paper_id
        )

)

select raw_listings.n as raw_n, facts.n as fact_n, facts.distinct_n, miscounted_papers.n as miscounted_papers
from raw_listings, facts, miscounted_papers
where not (raw_listings.n = facts.n and facts.n = facts.distinct_n and miscounted_papers.n = 0)

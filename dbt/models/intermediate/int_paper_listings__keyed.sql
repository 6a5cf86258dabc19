-- Each listing with the key it deduplicates on and its file's commit order,
-- scrape date and first ingestion. (fct_paper_listings derives the paper id
-- from the key.)

with

listings as (

    select * from {{ ref('stg_raw__paper_listings') }}

),

files as (

    select * from {{ ref('stg_raw__ingested_files') }}

),

keyed as (

    select
        ---------- ids
        listings.file_id,
        listings.position,
        files.ingest_seq,

        ---------- the title and its key
        listings.title,
        {{ title_key('listings.title') }} as title_key,

        ---------- the abstract's size: which listing's abstract a paper shows
        length(listings.abstract) as abstract_length,

        ---------- metadata
        listings.line_number,
        listings.authors_count,
        listings.organization,
        listings.published_text,
        listings.published_on,
        listings.upvotes,

        ---------- time: when the page was scraped, and when its file was first
        -- ingested (a re-parse reloads the listings, never that)
        files.scraped_on,
        files.ingested_at

    from listings
    inner join files on files.file_id = listings.file_id

)

select * from keyed

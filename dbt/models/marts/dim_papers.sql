-- One row per paper: every listing whose title has the same key is one paper.
--
-- Search documents live beside it, in dim_paper_search_documents.
--
-- Incremental: a build recomputes only the papers that new listings touched,
-- from all of their listings, so its cost follows the new files, and any
-- sequence of builds gives the same rows as a full refresh.

{{
    config(
        unique_key='paper_id',
        indexes=[
            {'columns': ['paper_id'], 'unique': true},
            {'columns': ['last_ingest_seq']},
        ],
    )
}}

with

{% if is_incremental() %}
{{ touched_papers() }},
{% endif %}

file_order as (

    -- The order the warehouse reads a paper's listings in: the order their
    -- pages were scraped, same-day pages by name and then by bytes. It
    -- depends on the files alone, never on when or in what order they were
    -- ingested, so the same inbox gives the same papers however it was
    -- loaded. ("C": the same order on every server, whatever its locale.)
    select
        file_id,
        row_number() over (
            order by scraped_on, file_name collate "C", sha256
        ) as file_rank
    from {{ ref('stg_raw__ingested_files') }}
    where status = 'loaded'

),

listings as (

    -- Only the facts: the abstracts stay in the raw table until the one a
    -- paper shows is fetched at the end; joined in here, every abstract
    -- would be carried through the sort below and spill to disk.
    select
        facts.paper_id,
        facts.file_id,
        facts.position,
        facts.ingest_seq,
        facts.title,
        facts.abstract_length,
        facts.authors_count,
        facts.organization,
        facts.published_on,
        facts.upvotes,
        facts.scraped_on,
        facts.ingested_at,
        row_number() over (
            partition by facts.paper_id order by file_order.file_rank, facts.position
        ) as seen_order

    from {{ ref('fct_paper_listings') }} as facts
    inner join file_order on file_order.file_id = facts.file_id

    {% if is_incremental() %}
    where facts.paper_id in (select touched_papers.paper_id from touched_papers)
    {% endif %}

),

title_forms as (

    select
        paper_id,
        title,
        count(*) as listing_count,
        min(seen_order) as first_seen_order
    from listings
    group by paper_id, title

),

display_titles as (

    -- the form seen most often; ties go to the one scraped first
    select
        paper_id,
        (array_agg(title order by listing_count desc, first_seen_order asc))[1] as title
    from title_forms
    group by paper_id

),

paper_facts as (

    select
        paper_id,

        ---------- text: the listing with the longest abstract (ties: the first scraped)
        (array_agg(file_id order by abstract_length desc, seen_order asc))[1] as abstract_file_id,
        (array_agg(position order by abstract_length desc, seen_order asc))[1] as abstract_position,

        ---------- metadata: from the most recently scraped listing that has it
        (array_agg(authors_count order by seen_order desc) filter (where authors_count is not null))[1] as authors_count,
        (array_agg(organization order by seen_order desc) filter (where organization is not null))[1] as organization,
        (array_agg(published_on order by seen_order desc) filter (where published_on is not null))[1] as published_on,
        (array_agg(upvotes order by seen_order desc) filter (where upvotes is not null))[1] as upvotes,
        max(upvotes) as max_upvotes,

        ---------- when and how often
        min(ingested_at) as first_seen_at,
        max(ingested_at) as last_seen_at,
        min(scraped_on) as first_scraped_on,
        count(*)::integer as listing_count,
        count(distinct file_id)::integer as file_count,
        max(ingest_seq) as last_ingest_seq

    from listings
    group by paper_id

)

select
    ---------- ids
    paper_facts.paper_id,

    ---------- text
    display_titles.title,
    abstract_listings.abstract,
    paper_facts.abstract_file_id,
    paper_facts.abstract_position,

    ---------- metadata
    paper_facts.authors_count,
    paper_facts.organization,
    paper_facts.published_on,
    paper_facts.upvotes,
    paper_facts.max_upvotes,

    ---------- when and how often
    paper_facts.first_seen_at,
    paper_facts.last_seen_at,
    paper_facts.first_scraped_on,
    paper_facts.listing_count,
    paper_facts.file_count,
    paper_facts.last_ingest_seq

from paper_facts
inner join display_titles on display_titles.paper_id = paper_facts.paper_id
inner join {{ ref('stg_raw__paper_listings') }} as abstract_listings
    on abstract_listings.file_id = paper_facts.abstract_file_id
    and abstract_listings.position = paper_facts.abstract_position

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
        ) as seen_order,
        -- A paper's listings of one file are neighbours in this order, so
        -- counting the first of each counts its files, in the same pass (one
        -- window) rather than by count(distinct), which sorts per paper.
        coalesce(lag(facts.file_id) over (
            partition by facts.paper_id order by file_order.file_rank, facts.position
        ) <> facts.file_id, true) as first_of_its_file

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

-- The title and the abstract are picked by DISTINCT ON, one sort of all the
-- rows, rather than by array_agg(... order by ...)[1] in paper_facts: the
-- planner sorts an aggregate's input for one order (the metadata's, newest
-- first), and an aggregate ordered otherwise sorts each paper's rows on its
-- own, a sort set up and torn down per paper.

display_titles as (

    -- the form seen most often; ties go to the one scraped first
    select distinct on (paper_id)
        paper_id,
        title
    from title_forms
    order by paper_id asc, listing_count desc, first_seen_order asc

),

abstract_choices as (

    -- the listing with the longest abstract (ties: the first scraped)
    select distinct on (paper_id)
        paper_id,
        file_id as abstract_file_id,
        position as abstract_position
    from listings
    order by paper_id asc, abstract_length desc, seen_order asc

),

paper_facts as (

    select
        paper_id,

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
        (count(*) filter (where first_of_its_file))::integer as file_count,
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
    abstract_choices.abstract_file_id,
    abstract_choices.abstract_position,

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
inner join abstract_choices on abstract_choices.paper_id = paper_facts.paper_id
inner join {{ ref('stg_raw__paper_listings') }} as abstract_listings
    on abstract_listings.file_id = abstract_choices.abstract_file_id
    and abstract_listings.position = abstract_choices.abstract_position

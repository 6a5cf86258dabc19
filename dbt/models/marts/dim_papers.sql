-- One row per paper: every listing whose title has the same key is one paper.
--
-- Indexes: search_document (GIN) serves search; last_seen_at lets search rank
-- the most recent matches of a common word (orchestration/queries.py).
--
-- Incremental: a build recomputes only the papers that new listings touched,
-- from all of their listings, so its cost follows the new files, and any
-- sequence of builds gives the same rows as a full refresh.

{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='paper_id',
        indexes=[
            {'columns': ['paper_id'], 'unique': true},
            {'columns': ['last_ingest_seq']},
            {'columns': ['search_document'], 'type': 'gin'},
            {'columns': ['last_seen_at']},
        ],
    )
}}

with

{% if is_incremental() %}
{{ touched_papers() }},
{% endif %}

listings as (

    select
        facts.*,
        -- only the length travels through the sorts below; the chosen
        -- abstract is fetched once per paper at the end
        length(raw_listings.abstract) as abstract_length,
        -- the order in which the warehouse saw the paper's listings
        row_number() over (
            partition by facts.paper_id order by facts.ingest_seq, facts.position
        ) as seen_order

    from {{ ref('fct_paper_listings') }} as facts
    inner join {{ ref('stg_raw__paper_listings') }} as raw_listings
        on raw_listings.file_id = facts.file_id
        and raw_listings.position = facts.position

    {% if is_incremental() %}
    where facts.paper_id in (select paper_id from touched_papers)
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

    -- the form seen most often; ties go to the one seen first
    select
        paper_id,
        (array_agg(title order by listing_count desc, first_seen_order))[1] as title
    from title_forms
    group by paper_id

),

paper_facts as (

    select
        paper_id,

        ---------- text: the listing with the longest abstract (ties: the first seen)
        (array_agg(file_id order by abstract_length desc, seen_order))[1] as abstract_file_id,
        (array_agg(position order by abstract_length desc, seen_order))[1] as abstract_position,

        ---------- metadata: from the most recently ingested listing that has it
        (array_agg(authors_count order by seen_order desc)
            filter (where authors_count is not null))[1] as authors_count,
        (array_agg(organization order by seen_order desc)
            filter (where organization is not null))[1] as organization,
        (array_agg(published_on order by seen_order desc)
            filter (where published_on is not null))[1] as published_on,
        (array_agg(upvotes order by seen_order desc)
            filter (where upvotes is not null))[1] as upvotes,
        max(upvotes) as max_upvotes,

        ---------- when and how often
        min(loaded_at) as first_seen_at,
        max(loaded_at) as last_seen_at,
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
    paper_facts.listing_count,
    paper_facts.file_count,
    paper_facts.last_ingest_seq,

    ---------- full-text search: title (weight A) and abstract (B) of the abstract's
    ---------- listing, computed once per listing by the features step
    search_documents.search_document

from paper_facts
inner join display_titles on display_titles.paper_id = paper_facts.paper_id
inner join {{ ref('stg_raw__paper_listings') }} as abstract_listings
    on abstract_listings.file_id = paper_facts.abstract_file_id
    and abstract_listings.position = paper_facts.abstract_position
-- left: a listing the features step missed keeps its paper (a dbt test names it)
left join {{ ref('stg_features__listing_search_documents') }} as search_documents
    on search_documents.file_id = paper_facts.abstract_file_id
    and search_documents.position = paper_facts.abstract_position

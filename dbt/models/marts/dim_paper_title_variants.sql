-- Every distinct raw title and the paper it was merged into: the audit trail of each merge.

{{
    config(
        unique_key='paper_id',
        indexes=[
            {'columns': ['paper_id', 'title'], 'unique': true},
        ],
    )
}}

with

{% if is_incremental() %}
{{ touched_papers() }},
{% endif %}

listings as (

    select * from {{ ref('fct_paper_listings') }}

    {% if is_incremental() %}
    where paper_id in (select touched_papers.paper_id from touched_papers)
    {% endif %}

)

select
    ---------- ids
    paper_id,
    title,

    ---------- the merge
    title_key,
    count(*)::integer as listing_count,
    min(ingested_at) as first_seen_at,
    max(ingested_at) as last_seen_at,
    max(ingest_seq) as last_ingest_seq

from listings
group by paper_id, title, title_key

-- One row per raw listing with the paper it was merged into: every paper
-- traces back to the exact files and positions it came from.
--
-- Incremental: each build adds the files committed since the last one
-- (ingest_seq above the watermark), up to the build's bound. A file loaded
-- again replaces its rows (delete+insert on file_id).

{{
    config(
        unique_key='file_id',
        meta={'computed_in_parallel': true},
        indexes=[
            {'columns': ['file_id', 'position'], 'unique': true},
            {'columns': ['paper_id']},
            {'columns': ['ingest_seq']},
        ],
    )
}}

with

listings as (

    select * from {{ ref('int_paper_listings__keyed') }}
    -- the files this build takes (macro build_bound): every model downstream
    -- takes its listings from here
    where {{ build_bound('ingest_seq') }}
        {% if is_incremental() %}
        and ingest_seq > {{ ingest_seq_watermark() }}
        {% endif %}

    -- A fence: without it the planner inlines the title_key expression into
    -- both of its uses (the column and the paper id) and computes it twice a
    -- listing; normalize, unaccent and a regex are most of this model's cost.
    offset 0  -- noqa: AM09

)

select
    ---------- ids
    {{ paper_id('title_key') }} as paper_id,
    file_id,
    position,
    ingest_seq,

    ---------- the listing
    line_number,
    title,
    title_key,
    abstract_length,
    authors_count,
    organization,
    published_text,
    published_on,
    upvotes,

    ---------- time
    scraped_on,
    ingested_at

from listings

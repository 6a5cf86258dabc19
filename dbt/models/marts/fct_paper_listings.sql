-- One row per raw listing with the paper it was merged into: every paper
-- traces back to the exact files and positions it came from.
--
-- Incremental: each build adds the files committed since the last one
-- (ingest_seq above the watermark). A file loaded again replaces its rows
-- (delete+insert on file_id).

{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='file_id',
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

    {% if is_incremental() %}
    where ingest_seq > {{ ingest_seq_watermark() }}
    {% endif %}

)

select
    ---------- ids
    paper_id,
    file_id,
    position,
    ingest_seq,

    ---------- the listing
    line_number,
    title,
    title_key,
    authors_count,
    organization,
    published_text,
    published_on,
    upvotes,

    ---------- time
    loaded_at

from listings

-- One row per paper with the search document `paperhouse search` matches:
-- title (weight A) and abstract (B) of the listing the paper's abstract
-- comes from, computed once per listing by the features step.
--
-- Its own table rather than a dim_papers column: the documents are as wide
-- as the rest of a paper together and only search reads them, so every
-- other reader of dim_papers scanned twice the bytes it needed (a million
-- listings: 1.2 GB instead of 0.6), and the GIN index builds here while the
-- keyword marts build from dim_papers.
--
-- Indexes: search_document (GIN) finds the matches; last_seen_at lets search
-- rank the most recent matches of a common word (orchestration/queries.py).

{{
    config(
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

papers as (

    select
        paper_id,
        title,
        last_seen_at,
        last_ingest_seq,
        abstract_file_id,
        abstract_position
    from {{ ref('dim_papers') }}

    {% if is_incremental() %}
    where last_ingest_seq > {{ ingest_seq_watermark('last_ingest_seq') }}
    {% endif %}

)

select
    ---------- ids
    papers.paper_id,

    ---------- what search shows and ranks by
    papers.title,
    papers.last_seen_at,
    papers.last_ingest_seq,

    ---------- title (A) and abstract (B), English
    search_documents.search_document

from papers
-- left: a listing the features step missed keeps its paper (a dbt test names it)
left join {{ ref('stg_features__listing_search_documents') }} as search_documents
    on search_documents.file_id = papers.abstract_file_id
    and search_documents.position = papers.abstract_position

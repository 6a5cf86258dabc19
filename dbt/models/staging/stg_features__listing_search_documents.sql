-- One row per loaded listing with its full-text search document.

-- One select, no WITH, so that joins reach the table's indexes (see
-- stg_raw__paper_listings.sql).

select
    ---------- ids
    file_id,
    position,

    ---------- title (weight A) and abstract (weight B), English
    search_document

from {{ source('features', 'listing_search_documents') }}

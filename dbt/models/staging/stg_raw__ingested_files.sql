-- One select, no WITH, so that joins reach the table's indexes (see
-- stg_raw__paper_listings.sql).

select
    ---------- ids
    file_id,
    sha256,
    ingest_seq,
    duplicate_of as duplicate_of_file_id,

    ---------- the file
    file_name,
    size_bytes,
    status,
    layout,
    encoding,
    parser_version,

    ---------- what came of it
    listing_count,
    error as notes,

    ---------- time
    scraped_on,
    ingested_at

from {{ source('raw', 'ingested_files') }}

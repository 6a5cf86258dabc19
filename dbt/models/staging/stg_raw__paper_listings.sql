-- One select, no WITH: PostgreSQL does not flatten a view whose query has a
-- WITH clause into the query that uses it, so a join could not reach the
-- table's primary key through it and read the whole table instead, which
-- would make every incremental build's joins cost what the whole table costs.

select
    ---------- ids
    file_id,
    position,
    line_number,

    ---------- text
    title,
    abstract,

    ---------- metadata
    authors_count,
    organization,
    published_text,
    published_on,
    upvotes,

    ---------- time
    loaded_at

from {{ source('raw', 'paper_listings') }}

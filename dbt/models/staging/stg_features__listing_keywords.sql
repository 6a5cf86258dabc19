-- One row per loaded listing with its keyphrases, best first, as parallel
-- arrays. Unnested where they are used, after the join that picks the few
-- listings a build needs: unnesting here made every build unnest them all.

-- One select, no WITH, so that joins reach the table's indexes (see
-- stg_raw__paper_listings.sql).

select
    ---------- ids
    file_id,
    position,

    ---------- the keyphrases, best first
    keywords,
    scores,
    in_title,
    occurrences,
    -- rows extracted before display forms existed show the key until re-extracted
    coalesce(display_keywords, keywords) as display_keywords

from {{ source('features', 'listing_keywords') }}

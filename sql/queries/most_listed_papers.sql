-- The most-listed papers: those that turned up in the most listings and
-- files, a proxy for staying power on the listing pages.

select
    paper_id,
    title,
    listing_count,
    file_count,
    max_upvotes,
    first_seen_at,
    last_seen_at
from analytics.dim_papers
order by listing_count desc, file_count desc, title asc
limit 25;

-- Emerging keywords: keywords first seen in the last 90 days that already
-- appear on several papers, newest first, each also in the form a reader
-- expects (LoRA, not lora). Change the interval to taste.

select
    keyword,
    display_keyword,
    paper_count,
    first_seen_at,
    last_seen_at
from analytics.dim_keywords
where first_seen_at >= now() - interval '90 days'
    and paper_count >= 2
order by paper_count desc, first_seen_at desc, keyword asc
limit 50;

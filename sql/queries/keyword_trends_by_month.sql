-- Keyword trends by month: how many papers of each month carry each of the
-- eight keywords the most papers carry, one line per keyword, in the form a
-- reader expects (LoRA, not lora). A paper's month is its publication month
-- where known, else the month it was first seen (analytics.fct_keyword_monthly).

with top_keywords as (

    select
        keyword,
        display_keyword
    from analytics.dim_keywords
    order by paper_count desc, keyword asc
    limit 8

)

select
    monthly.month,
    top_keywords.display_keyword as keyword,
    monthly.paper_count
from analytics.fct_keyword_monthly as monthly
inner join top_keywords on monthly.keyword = top_keywords.keyword
order by monthly.month asc, keyword asc;

-- Top keywords per month: the five keywords most papers carried each month.
-- A paper's month is its publication month where known, else the month it
-- was first seen (analytics.fct_keyword_monthly). Good for a stacked bar chart.

with ranked as (

    select
        month,
        keyword,
        paper_count,
        row_number() over (partition by month order by paper_count desc, keyword asc) as place
    from analytics.fct_keyword_monthly

)

select
    month,
    place,
    keyword,
    paper_count
from ranked
where place <= 5
order by month desc, place asc;

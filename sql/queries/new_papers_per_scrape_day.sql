-- New papers per day of scrape: how many papers each scrape date brought for
-- the first time (a paper counts on the earliest page that listed it).

select
    first_scraped_on as scrape_day,
    count(*) as new_papers
from analytics.dim_papers
group by first_scraped_on
order by scrape_day asc;

-- Papers first seen this week (since Monday, in the server's time zone),
-- newest first, with their top three keywords.

select
    papers.paper_id,
    papers.title,
    papers.first_seen_at,
    string_agg(keywords.display_keyword, ', ' order by keywords.rank)
    filter (where keywords.rank <= 3) as top_keywords
from analytics.dim_papers as papers
left join analytics.fct_paper_keywords as keywords on papers.paper_id = keywords.paper_id
where papers.first_seen_at >= date_trunc('week', now())
group by papers.paper_id, papers.title, papers.first_seen_at
order by papers.first_seen_at desc, papers.title asc;

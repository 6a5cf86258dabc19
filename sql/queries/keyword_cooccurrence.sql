-- Keyword co-occurrence: pairs of keywords that the same papers carry, most
-- frequent first. Each pair appears once (a < b). Good for a network graph.

select
    a.keyword as keyword_a,
    b.keyword as keyword_b,
    count(*) as papers
from analytics.fct_paper_keywords as a
inner join analytics.fct_paper_keywords as b
    on b.paper_id = a.paper_id
    and a.keyword < b.keyword
group by a.keyword, b.keyword
having count(*) >= 2
order by papers desc, keyword_a asc, keyword_b asc
limit 100;

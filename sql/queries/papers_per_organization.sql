-- Papers per organization: how many papers list each organization, with
-- their total upvotes. Only some listing pages show an organization; papers
-- without one are counted under '(none shown)'.

select
    coalesce(organization, '(none shown)') as organization,
    count(*) as papers,
    sum(coalesce(upvotes, 0)) as upvotes
from analytics.dim_papers
group by coalesce(organization, '(none shown)')
order by papers desc, organization asc;

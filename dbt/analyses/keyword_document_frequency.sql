-- The reference IDF table (seed keyword_document_frequency) computed from the
-- current warehouse: every candidate phrase found in two papers or more.
-- `paperhouse calibrate` runs this and writes the seed.

with

papers as (

    select paper_id, title, abstract from {{ ref('dim_papers') }}

),

{{ keyword_candidates('papers') }}

select
    phrase,
    count(*) as document_count,
    (select count(*) from papers) as corpus_documents
from keyword_candidates
group by phrase
having count(*) >= 2
order by phrase

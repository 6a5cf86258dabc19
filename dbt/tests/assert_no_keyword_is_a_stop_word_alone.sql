-- A keyword is never a function word or a generic research word on its own
-- (model, method, approach, results, performance, propose, paper, task, ...).

-- shown in Dagster as a check of the model it guards
{{ config(meta={"dagster": {"ref": {"name": "fct_paper_keywords"}}}) }}

select keywords.paper_id, keywords.keyword, stopwords.kind
from {{ ref('fct_paper_keywords') }} as keywords
inner join {{ ref('keyword_stopwords') }} as stopwords
    on stopwords.word = keywords.keyword

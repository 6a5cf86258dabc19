-- A keyword is never a function word or a generic research word on its own
-- (model, method, approach, results, performance, propose, paper, task, ...).

select keywords.paper_id, keywords.keyword, stopwords.kind
from {{ ref('fct_paper_keywords') }} as keywords
inner join {{ ref('keyword_stopwords') }} as stopwords
    on stopwords.word = keywords.keyword

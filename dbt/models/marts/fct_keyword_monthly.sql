-- Keyword x month: how many papers of that month carry the keyword, for trend
-- charts. A paper's month is its publication month where known, else the
-- month of the first page that listed it.
--
-- Incremental: counts move by the (keyword, month) pairs touched papers
-- gained and gave up (macro touched_keyword_versions): a paper whose month
-- changed moves its keywords to the new month. A pair is recounted from the
-- facts only where a paper that left it may have held its newest ingest,
-- which a maximum cannot take back.

-- depends_on: {{ ref('fct_paper_keyword_versions') }}

{{
    config(
        unique_key=['keyword', 'month'],
        indexes=[
            {'columns': ['keyword', 'month'], 'unique': true},
            {'columns': ['month']},
        ],
        post_hook=[
            "{% if is_incremental() %}delete from {{ this }} where paper_count = 0{% endif %}"
        ],
    )
}}

with

{% if is_incremental() %}
{{ touched_keyword_versions() }},

-- what touched papers gained of each pair they carry, and their newest ingest
touched_pairs as (

    select
        latest_rows.keyword,
        latest_rows.month,
        count(gained.paper_id)::integer as papers_gained,
        max(latest_rows.last_ingest_seq) as last_ingest_seq
    from latest_rows
    left join gained
        on gained.paper_id = latest_rows.paper_id
        and gained.keyword = latest_rows.keyword
        and gained.month = latest_rows.month
    group by latest_rows.keyword, latest_rows.month

),

-- what they gave up of each pair, and the newest ingest among the facts they took away
left_pairs as (

    select
        lost.keyword,
        lost.month,
        count(*)::integer as papers_lost,
        max(lost.last_ingest_seq) as last_ingest_seq,
        -- a paper left with no keyword leaves its ingest on no row, so the
        -- watermark may stay below its version and the next build read it
        -- again: only a recount comes out the same the second time
        bool_or(cardinality(latest.keywords) = 0) as left_by_an_emptied_paper
    from lost
    inner join latest_versions as latest on latest.paper_id = lost.paper_id
    group by lost.keyword, lost.month

),

moved_pairs as (

    select
        coalesce(touched.keyword, left_pairs.keyword) as keyword,
        coalesce(touched.month, left_pairs.month) as month,
        coalesce(current.paper_count, 0)
        + coalesce(touched.papers_gained, 0)
        - coalesce(left_pairs.papers_lost, 0) as paper_count,
        greatest(current.last_ingest_seq, touched.last_ingest_seq) as last_ingest_seq,
        -- the pair's newest fact may be one a paper took away
        coalesce(left_pairs.last_ingest_seq >= current.last_ingest_seq, left_pairs.keyword is not null)
        or coalesce(left_pairs.left_by_an_emptied_paper, false) as needs_recount
    from touched_pairs as touched
    full join left_pairs
        on left_pairs.keyword = touched.keyword and left_pairs.month = touched.month
    left join {{ this }} as current
        on current.keyword = coalesce(touched.keyword, left_pairs.keyword)
        and current.month = coalesce(touched.month, left_pairs.month)

),

recounted_pairs as (

    select
        keyword,
        month
    from moved_pairs
    where needs_recount

),
{% endif %}

-- every pair on a full build; only the recounted ones on an incremental one
counted as (

    select
        keywords.keyword,
        keywords.trend_month as month,
        count(*)::integer as paper_count,
        max(keywords.last_ingest_seq) as last_ingest_seq
    from {{ ref('fct_paper_keywords') }} as keywords
    {% if is_incremental() %}
    inner join recounted_pairs
        on recounted_pairs.keyword = keywords.keyword
        and recounted_pairs.month = keywords.trend_month
    {% endif %}
    group by keywords.keyword, keywords.trend_month

)

{% if is_incremental() %}

select
    keyword,
    month,
    paper_count,
    last_ingest_seq
from moved_pairs
where not needs_recount

union all

-- a pair no paper carries any more counts 0, and the post-hook deletes it
select
    recounted_pairs.keyword,
    recounted_pairs.month,
    coalesce(counted.paper_count, 0) as paper_count,
    counted.last_ingest_seq
from recounted_pairs
left join counted
    on counted.keyword = recounted_pairs.keyword and counted.month = recounted_pairs.month

{% else %}

select * from counted

{% endif %}

-- Keyword x month: how many papers of that month carry the keyword, for trend
-- charts. A paper's month is its publication month where known, else the
-- month of the first page that listed it.
--
-- Incremental: counts move by what touched papers gained; (keyword, month)
-- pairs a paper gave up are recounted (macro touched_keyword_versions).

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

-- (keyword, month) pairs a paper gave up: counted again from the facts
lost_pairs as (

    select distinct
        keyword,
        month
    from lost

),
{% endif %}

-- every pair on a full build; only the lost ones on an incremental one
counted as (

    select
        keywords.keyword,
        keywords.trend_month as month,
        count(*)::integer as paper_count,
        max(keywords.last_ingest_seq) as last_ingest_seq
    from {{ ref('fct_paper_keywords') }} as keywords
    {% if is_incremental() %}
    inner join lost_pairs
        on lost_pairs.keyword = keywords.keyword and lost_pairs.month = keywords.trend_month
    {% endif %}
    group by keywords.keyword, keywords.trend_month

)

{% if is_incremental() %}
,

-- the others only gained papers, or kept theirs (their watermark moves on)
carried_pairs as (

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
    where (latest_rows.keyword, latest_rows.month) not in (
            select
                lost_pairs.keyword,
                lost_pairs.month
            from lost_pairs
        )
    group by latest_rows.keyword, latest_rows.month

)

select
    carried_pairs.keyword,
    carried_pairs.month,
    coalesce(current.paper_count, 0) + carried_pairs.papers_gained as paper_count,
    greatest(current.last_ingest_seq, carried_pairs.last_ingest_seq) as last_ingest_seq
from carried_pairs
left join {{ this }} as current
    on current.keyword = carried_pairs.keyword and current.month = carried_pairs.month

union all

-- pairs no paper carries any more: counted as 0, then deleted by the post-hook
select
    lost_pairs.keyword,
    lost_pairs.month,
    coalesce(counted.paper_count, 0) as paper_count,
    counted.last_ingest_seq
from lost_pairs
left join counted on counted.keyword = lost_pairs.keyword and counted.month = lost_pairs.month

{% else %}

select * from counted

{% endif %}

-- Keyword x month: how many papers of that month carry the keyword, for trend
-- charts. A paper's month is its publication month where known, else the
-- month it was first seen.

-- depends_on: {{ ref('int_paper_keyword_versions') }}

{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
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

touched as (

    select unnest(keywords) as keyword, trend_month as month from new_versions
    union
    select unnest(keywords) as keyword, trend_month as month from previous_versions

),
{% endif %}

keywords as (

    select * from {{ ref('fct_paper_keywords') }}

    {% if is_incremental() %}
    where keyword in (select keyword from touched)
    {% endif %}

),

counted as (

    select
        keyword,
        trend_month as month,
        count(*)::integer as paper_count,
        max(last_ingest_seq) as last_ingest_seq
    from keywords
    group by keyword, trend_month

)

{% if is_incremental() %}
select
    touched.keyword,
    touched.month,
    coalesce(counted.paper_count, 0) as paper_count,
    counted.last_ingest_seq
from touched
left join counted on counted.keyword = touched.keyword and counted.month = touched.month
{% else %}
select * from counted
{% endif %}

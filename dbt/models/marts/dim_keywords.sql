-- One row per keyword: how many papers carry it and when it was seen.

-- depends_on: {{ ref('int_paper_keyword_versions') }}

{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='keyword',
        indexes=[{'columns': ['keyword'], 'unique': true}, {'columns': ['paper_count']}],
        post_hook=[
            "{% if is_incremental() %}delete from {{ this }} where paper_count = 0{% endif %}"
        ],
    )
}}

with

{% if is_incremental() %}
{{ touched_keyword_versions() }},

touched as (

    select unnest(keywords) as keyword from new_versions
    union
    select unnest(keywords) as keyword from previous_versions

),
{% endif %}

keywords as (

    select * from {{ ref('fct_paper_keywords') }}

    {% if is_incremental() %}
    where keyword in (select keyword from touched)
    {% endif %}

),

papers as (

    select paper_id, first_seen_at, last_seen_at from {{ ref('dim_papers') }}

),

counted as (

    select
        keywords.keyword,
        count(*)::integer as paper_count,
        min(papers.first_seen_at) as first_seen_at,
        max(papers.last_seen_at) as last_seen_at,
        max(keywords.last_ingest_seq) as last_ingest_seq
    from keywords
    inner join papers on papers.paper_id = keywords.paper_id
    group by keywords.keyword

)

{% if is_incremental() %}
-- keywords no paper carries any more: counted as 0, then deleted by the post-hook
select
    touched.keyword,
    coalesce(counted.paper_count, 0) as paper_count,
    counted.first_seen_at,
    counted.last_seen_at,
    counted.last_ingest_seq
from touched
left join counted on counted.keyword = touched.keyword
{% else %}
select * from counted
{% endif %}

-- One row per keyword: how many papers carry it and when it was seen.
--
-- Incremental: counts move by what touched papers gained, keywords that a
-- paper gave up are recounted (macro touched_keyword_versions), so a build
-- costs what its files bring, not what a popular keyword has gathered.

-- depends_on: {{ ref('fct_paper_keyword_versions') }}

{{
    config(
        unique_key='keyword',
        indexes=[{'columns': ['keyword'], 'unique': true}, {'columns': ['paper_count']}],
        post_hook=[
            "{% if is_incremental() %}delete from {{ this }} where paper_count = 0{% endif %}"
        ],
    )
}}

with

-- not materialized: used twice, PostgreSQL would otherwise write out every
-- paper where a build needs the few it touched
papers as not materialized (

    select
        paper_id,
        first_seen_at,
        last_seen_at
    from {{ ref('dim_papers') }}

),

{% if is_incremental() %}
{{ touched_keyword_versions() }},

-- keywords a paper gave up: counted again from the facts
lost_keywords as (

    select distinct keyword from lost

),
{% endif %}

-- every keyword on a full build; only the lost ones on an incremental one
counted as (

    select
        keywords.keyword,
        -- of the ways its papers write it, the last in byte order: lower case
        -- wins wherever a paper writes it so (large language model), a name
        -- keeps capitals every paper gives it (LoRA); a maximum, which
        -- increments can keep (sqlfluff takes the collation "C" for a column)
        max(keywords.display_keyword collate "C") as display_keyword,  -- noqa: RF02
        count(*)::integer as paper_count,
        min(papers.first_seen_at) as first_seen_at,
        max(papers.last_seen_at) as last_seen_at,
        max(keywords.last_ingest_seq) as last_ingest_seq
    from {{ ref('fct_paper_keywords') }} as keywords
    inner join papers on papers.paper_id = keywords.paper_id
    {% if is_incremental() %}
    where keywords.keyword in (select lost_keywords.keyword from lost_keywords)
    {% endif %}
    group by keywords.keyword

)

{% if is_incremental() %}
,

-- each keyword a paper gained, once
gained_keywords as (

    select distinct
        gained.paper_id,
        gained.keyword
    from gained

),

-- the others only gained papers, or kept theirs and saw them again
carried as (

    select
        latest_rows.keyword,
        max(facts.display_keyword collate "C") filter (  -- noqa: RF02
            where gained.paper_id is not null
        ) as display_keyword,
        count(*) filter (where gained.paper_id is not null)::integer as papers_gained,
        min(papers.first_seen_at) filter (where gained.paper_id is not null) as first_seen_at,
        max(papers.last_seen_at) as last_seen_at,
        max(latest_rows.last_ingest_seq) as last_ingest_seq
    from latest_rows
    inner join papers on papers.paper_id = latest_rows.paper_id
    left join gained_keywords as gained
        on gained.paper_id = latest_rows.paper_id and gained.keyword = latest_rows.keyword
    left join {{ ref('fct_paper_keywords') }} as facts
        on facts.paper_id = gained.paper_id and facts.keyword = gained.keyword
    where latest_rows.keyword not in (select lost_keywords.keyword from lost_keywords)
    group by latest_rows.keyword

)

select
    carried.keyword,
    greatest(current.display_keyword collate "C", carried.display_keyword) as display_keyword,  -- noqa: RF02
    coalesce(current.paper_count, 0) + carried.papers_gained as paper_count,
    least(current.first_seen_at, carried.first_seen_at) as first_seen_at,
    greatest(current.last_seen_at, carried.last_seen_at) as last_seen_at,
    greatest(current.last_ingest_seq, carried.last_ingest_seq) as last_ingest_seq
from carried
left join {{ this }} as current on current.keyword = carried.keyword

union all

-- keywords no paper carries any more: counted as 0, then deleted by the post-hook
select
    lost_keywords.keyword,
    coalesce(counted.display_keyword, lost_keywords.keyword) as display_keyword,
    coalesce(counted.paper_count, 0) as paper_count,
    counted.first_seen_at,
    counted.last_seen_at,
    counted.last_ingest_seq
from lost_keywords
left join counted on counted.keyword = lost_keywords.keyword

{% else %}

select * from counted

{% endif %}

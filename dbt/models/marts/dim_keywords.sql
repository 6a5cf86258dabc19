-- One row per keyword: how many papers carry it and when it was seen.
--
-- Incremental: counts move by what touched papers gained (macro
-- touched_keyword_versions). A paper's first sighting only moves earlier,
-- its last sighting later, so a keyword's can move with them. A keyword is
-- recounted from all its facts only where a paper gave it up or now writes
-- it in a form that sorts lower, which a maximum cannot take back; a paper
-- whose month alone changed recounts nothing here. A build costs what its
-- files bring, not what a popular keyword has gathered.

-- depends_on: {{ ref('fct_paper_keyword_versions') }}
-- depends_on: {{ ref('stg_features__listing_keywords') }}

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

-- each keyword of a touched paper's previous version, as it wrote it then:
-- read from the listing that version came from
previous_forms as (

    select
        previous.paper_id,
        forms.keyword,
        forms.display_keyword
    from previous_versions as previous
    inner join {{ ref('stg_features__listing_keywords') }} as listing
        on listing.file_id = previous.abstract_file_id
        and listing.position = previous.abstract_position
    cross join lateral unnest(listing.keywords, listing.display_keywords)
        as forms (keyword, display_keyword)

),

-- and as it writes them now
latest_forms as (

    select
        facts.paper_id,
        facts.keyword,
        facts.display_keyword,
        facts.last_ingest_seq
    from latest_versions as latest
    inner join {{ ref('fct_paper_keywords') }} as facts on facts.paper_id = latest.paper_id

),

-- keywords a paper gave up, or now writes in a form that sorts lower:
-- counted again from the facts
recounted_keywords as (

    select distinct previous.keyword
    from previous_forms as previous
    left join latest_forms as latest
        on latest.paper_id = previous.paper_id and latest.keyword = previous.keyword
    where
        latest.keyword is null
        or latest.display_keyword collate "C" < previous.display_keyword collate "C"  -- noqa: RF02

),
{% endif %}

-- every keyword on a full build; only the recounted ones on an incremental one
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
    where keywords.keyword in (select recounted_keywords.keyword from recounted_keywords)
    {% endif %}
    group by keywords.keyword

)

{% if is_incremental() %}
,

-- the others: papers gained, and the sightings and forms of the papers that
-- carry them now, which only widen what the mart holds
carried as (

    select
        latest.keyword,
        max(latest.display_keyword collate "C") as display_keyword,  -- noqa: RF02
        count(*) filter (where previous.paper_id is null)::integer as papers_gained,
        min(papers.first_seen_at) as first_seen_at,
        max(papers.last_seen_at) as last_seen_at,
        max(latest.last_ingest_seq) as last_ingest_seq
    from latest_forms as latest
    inner join papers on papers.paper_id = latest.paper_id
    left join previous_forms as previous
        on previous.paper_id = latest.paper_id and previous.keyword = latest.keyword
    where latest.keyword not in (select recounted_keywords.keyword from recounted_keywords)
    group by latest.keyword

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

-- the recounted keywords; one no paper carries any more counts 0, and the
-- post-hook deletes it
select
    recounted_keywords.keyword,
    coalesce(counted.display_keyword, recounted_keywords.keyword) as display_keyword,
    coalesce(counted.paper_count, 0) as paper_count,
    counted.first_seen_at,
    counted.last_seen_at,
    counted.last_ingest_seq
from recounted_keywords
left join counted on counted.keyword = recounted_keywords.keyword

{% else %}

select * from counted

{% endif %}

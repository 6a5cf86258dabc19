-- One row per keyword: how many papers carry it and when it was seen.
--
-- Incremental: counts move by what touched papers gained and gave up (macro
-- touched_keyword_versions). A paper's first sighting only moves earlier,
-- its last sighting later, so a keyword's can move with them. A keyword is
-- recounted from all its facts only where a paper took away what the mart
-- shows, which a minimum or maximum cannot take back: the form no paper
-- writes any more, or the first or last sighting or newest ingest of the
-- paper that gave it up. A paper whose month alone changed recounts
-- nothing. A build costs what its files bring, not what a popular keyword
-- has gathered.

-- depends_on: {{ ref('fct_paper_keyword_versions') }}
-- depends_on: {{ ref('stg_features__listing_keywords') }}
-- depends_on: {{ ref('fct_paper_listings') }}

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
        previous.last_ingest_seq,
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

-- each keyword of a previous version with the form the paper writes it in
-- now: none where the paper gave it up
compared_forms as (

    select
        previous.*,
        latest.display_keyword as latest_display_keyword
    from previous_forms as previous
    left join latest_forms as latest
        on latest.paper_id = previous.paper_id and latest.keyword = previous.keyword

),

given_up as (

    select
        compared.paper_id,
        compared.last_ingest_seq,
        compared.keyword,
        compared.display_keyword
    from compared_forms as compared
    where compared.latest_display_keyword is null

),

-- when each paper that gave keywords up had been seen, as of that version:
-- its listings up to the version's ingest
given_up_sightings as (

    select
        versions.paper_id,
        min(listings.ingested_at) as first_seen_at,
        max(listings.ingested_at) as last_seen_at
    from (
        select distinct
            given_up.paper_id,
            given_up.last_ingest_seq
        from given_up
    ) as versions
    inner join {{ ref('fct_paper_listings') }} as listings
        on listings.paper_id = versions.paper_id
        and listings.ingest_seq <= versions.last_ingest_seq
    group by versions.paper_id

),

-- keywords whose row a paper took something from that a maximum or minimum
-- cannot take back: counted again from the facts
recounted_keywords as (

    -- the form the mart shows, which a paper gave up or now writes otherwise,
    -- and no paper writes any more
    select current.keyword
    from compared_forms as changed
    inner join {{ this }} as current on current.keyword = changed.keyword
    where
        changed.latest_display_keyword is distinct from changed.display_keyword
        and changed.display_keyword collate "C" >= current.display_keyword collate "C"  -- noqa: RF02
        and not exists (
            select
            from {{ ref('fct_paper_keywords') }} as facts
            where
                facts.keyword = current.keyword
                and facts.display_keyword = current.display_keyword
        )

    union

    -- a sighting or the newest ingest the mart shows, left with the paper.
    -- And whatever a paper whose newest text gives no keyword gave up: no
    -- row then carries its ingest, the mart's watermark may stay below it,
    -- and the next build reads its version again, which a recount survives
    -- and a decrement would not.
    select given_up.keyword
    from given_up
    inner join latest_versions as latest on latest.paper_id = given_up.paper_id
    left join given_up_sightings as sightings on sightings.paper_id = given_up.paper_id
    left join {{ this }} as current on current.keyword = given_up.keyword
    where
        current.keyword is null
        or sightings.paper_id is null
        or given_up.last_ingest_seq >= current.last_ingest_seq
        or sightings.first_seen_at <= current.first_seen_at
        or sightings.last_seen_at >= current.last_seen_at
        or cardinality(latest.keywords) = 0

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
    -- an array, not `in (select ...)`: the planner then reads the few
    -- keywords' facts by index, where a join of unknown size hashes against
    -- a scan of every fact
    where keywords.keyword = any(array(select recounted_keywords.keyword from recounted_keywords))
    {% endif %}
    group by keywords.keyword

)

{% if is_incremental() %}
,

-- the others: papers gained and given up, and the sightings and forms of
-- the papers that carry them now, which only widen what the mart holds
moves as (

    select
        latest.keyword,
        latest.display_keyword,
        case when previous.paper_id is null then 1 else 0 end as papers_moved,
        papers.first_seen_at,
        papers.last_seen_at,
        latest.last_ingest_seq
    from latest_forms as latest
    inner join papers on papers.paper_id = latest.paper_id
    left join previous_forms as previous
        on previous.paper_id = latest.paper_id and previous.keyword = latest.keyword

    union all

    select
        given_up.keyword,
        null as display_keyword,
        -1 as papers_moved,
        null as first_seen_at,
        null as last_seen_at,
        null as last_ingest_seq
    from given_up

),

carried as (

    select
        keyword,
        max(display_keyword collate "C") as display_keyword,  -- noqa: RF02
        sum(papers_moved)::integer as papers_moved,
        min(first_seen_at) as first_seen_at,
        max(last_seen_at) as last_seen_at,
        max(last_ingest_seq) as last_ingest_seq
    from moves
    where keyword not in (select recounted_keywords.keyword from recounted_keywords)
    group by keyword

)

select
    carried.keyword,
    -- greatest and least pass over a null: a keyword only given up keeps its row's own
    greatest(current.display_keyword collate "C", carried.display_keyword) as display_keyword,  -- noqa: RF02
    coalesce(current.paper_count, 0) + carried.papers_moved as paper_count,
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

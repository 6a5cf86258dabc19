-- One row per keyphrase of a listing: the extractor's parallel arrays unnested.

with

source as (

    select * from {{ source('features', 'listing_keywords') }}

),

unnested as (

    select
        ---------- ids
        source.file_id,
        source.position,

        ---------- the keyphrase
        keyword.keyword,
        keyword.score::numeric(14, 4) as score,
        keyword.rank::integer as rank,
        keyword.in_title,
        keyword.occurrences

    from source
    cross join lateral
        unnest(source.keywords, source.scores, source.in_title, source.occurrences)
            with ordinality as keyword (keyword, score, in_title, occurrences, rank)

)

select * from unnested

{#
    CTEs `new_versions` and `previous_versions` for a keyword mart's
    incremental build: the keyword sets of the papers touched since the mart's
    watermark, and the set each of them had just before. A keyword (or
    keyword-month) in either may have changed its counts.
#}
{% macro touched_keyword_versions() %}

    new_versions as (

        select *
        from {{ ref('int_paper_keyword_versions') }}
        where last_ingest_seq > {{ ingest_seq_watermark('last_ingest_seq') }}

    ),

    previous_versions as (

        select distinct on (older.paper_id) older.*
        from {{ ref('int_paper_keyword_versions') }} as older
        inner join new_versions on new_versions.paper_id = older.paper_id
        where older.last_ingest_seq < (
            select min(last_ingest_seq) from new_versions as newer
            where newer.paper_id = older.paper_id
        )
        order by older.paper_id, older.last_ingest_seq desc

    )

{% endmacro %}

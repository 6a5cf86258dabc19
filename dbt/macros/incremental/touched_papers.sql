{#
    CTE `touched_papers` for a paper-grained mart's incremental build: the
    papers that listings above the mart's watermark belong to.
#}
{% macro touched_papers() %}

    touched_papers as (

        select distinct paper_id
        from {{ ref('fct_paper_listings') }}
        where ingest_seq > {{ ingest_seq_watermark('last_ingest_seq') }}

    )

{% endmacro %}

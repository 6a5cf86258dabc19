{#
    CTE `papers` for the two models that give a paper the keywords of the
    listing its abstract comes from (fct_paper_keywords and
    fct_paper_keyword_versions, which must agree): the papers the model has
    not absorbed yet (every paper on a full build), that listing, and the
    paper's trend month: its publication month, or the month of the first
    page that listed it when no listing shows a date (a scrape date, so the
    month follows the pages, not when they happened to be ingested).
#}
{% macro keyword_papers() %}

    papers as (

        select
            paper_id,
            abstract_file_id,
            abstract_position,
            last_ingest_seq,
            date_trunc(
                'month', coalesce(published_on, first_scraped_on)
            )::date as trend_month
        from {{ ref('dim_papers') }}

        {% if is_incremental() %}
        where last_ingest_seq > {{ ingest_seq_watermark('last_ingest_seq') }}
        {% endif %}

    )

{% endmacro %}

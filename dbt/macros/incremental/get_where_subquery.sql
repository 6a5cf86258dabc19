{#
    Incremental builds test what they built, not the whole warehouse.

    The build's plan (orchestration/models/plan.py) passes the watermark the
    marts had before an incremental build (build_setting
    PAPERHOUSE_TEST_SINCE_INGEST_SEQ; 0 for a full refresh, and by default). Every generic test on a model below
    then reads only the rows above it, the rows this build wrote: data tests
    cost what the new files cost, while untouched rows were tested by the
    build that wrote them. The nightly full refresh (Dagster) and
    `paperhouse build --full-refresh` test everything.

    `watermark_column` names the column that carries each model's
    ingest_seq (its meta); raw listings and their features, which carry
    none, are scoped by file id instead.
#}
{# dbt's own hook for generic tests' `where` config, extended with the scope above. #}
{% macro get_where_subquery(relation) -%}
    {%- set where = config.get('where', '') -%}
    {%- set column = watermark_column(relation) -%}
    {%- set since = build_setting('PAPERHOUSE_TEST_SINCE_INGEST_SEQ', 0) | int -%}
    {%- set conditions = [] -%}
    {%- if where -%}{%- do conditions.append('(' ~ where ~ ')') -%}{%- endif -%}
    {%- if column and since > 0 -%}{%- do conditions.append(column ~ ' > ' ~ since) -%}{%- endif -%}
    {%- if column and build_setting('PAPERHOUSE_BUILD_THROUGH_INGEST_SEQ') is not none -%}
        {%- do conditions.append(build_bound(column)) -%}
    {%- endif -%}
    {%- set scoped_by_file_id = [
        'stg_raw__paper_listings',
        'stg_features__listing_keywords',
        'stg_features__listing_search_documents',
    ] -%}
    {%- if relation.identifier in scoped_by_file_id and since > 0 -%}
        {%- do conditions.append('file_id >= ' ~ first_unbuilt_file_id(since)) -%}
    {%- endif -%}
    {%- if conditions -%}
        {%- do return('(select * from ' ~ relation ~ ' where ' ~ conditions | join(' and ') ~ ') dbt_subquery') -%}
    {%- else -%}
        {%- do return(relation) -%}
    {%- endif -%}
{%- endmacro %}

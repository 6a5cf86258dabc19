{#
    A build takes the files committed up to PAPERHOUSE_BUILD_THROUGH_INGEST_SEQ:
    those whose features are extracted (its plan sets it: orchestration/models/plan.py).
    Files an ingest commits while the build runs wait for the next build;
    without a bound, dbt run by hand takes everything.
#}
{% macro build_bound(column) -%}
    {%- set through = build_setting('PAPERHOUSE_BUILD_THROUGH_INGEST_SEQ') -%}
    {%- if through is none -%}true{%- else -%}{{ column }} <= {{ through | int }}{%- endif -%}
{%- endmacro %}

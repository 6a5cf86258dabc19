{# For singular tests: `column` within what this build wrote (above its starting watermark, up to its bound). #}
{% macro built_this_run(column) -%}
    {{ column }} > {{ build_setting('PAPERHOUSE_TEST_SINCE_INGEST_SEQ', 0) | int }} and {{ build_bound(column) }}
{%- endmacro %}

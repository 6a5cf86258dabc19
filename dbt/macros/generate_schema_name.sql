{#
    Custom schemas are used as they are (`analytics`, not `analytics_analytics`):
    the marts' schema is a public contract that users and BI tools name.
#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}

{# A stable id for a title key: the same key gives the same id in every build. #}
{% macro paper_id(title_key) -%}
    md5({{ title_key }})::uuid
{%- endmacro %}

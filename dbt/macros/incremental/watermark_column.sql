{#
    The column that carries the ingest_seq of each row of `relation`: its
    model's meta `watermark_column` (dbt_project.yml gives every mart
    last_ingest_seq), or none for a relation whose tests read every row.
    Only while executing: dbt's graph is empty while it parses.
#}
{% macro watermark_column(relation) -%}
    {%- if not execute -%}{%- do return(none) -%}{%- endif -%}
    {%- for node in graph.nodes.values()
        if node.resource_type == 'model'
        and node.alias == relation.identifier
        and node.schema == relation.schema -%}
        {%- do return(node.config.meta.get('watermark_column')) -%}
    {%- endfor -%}
    {%- do return(none) -%}
{%- endmacro %}

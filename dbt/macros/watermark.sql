{#
    The incremental watermark: the highest raw.ingested_files.ingest_seq a
    model has absorbed. ingest_seq follows commit order, so every file above
    the watermark is new to the model, and no file below it can still appear.
#}
{% macro ingest_seq_watermark(column='ingest_seq') -%}
    (select coalesce(max({{ column }}), 0) from {{ this }})
{%- endmacro %}

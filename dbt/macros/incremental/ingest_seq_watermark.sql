{#
    The incremental watermark: the highest raw.ingested_files.ingest_seq a
    model has absorbed. ingest_seq follows commit order, so every file above
    the watermark is new to the model, and no file below it can still appear.
#}
{% macro ingest_seq_watermark(column='ingest_seq') -%}
    {#- Read when the model runs and written into its SQL as a number: the
        planner then sees how few rows lie above it and uses the indexes
        (behind a subquery it assumed a third of the table). -#}
    {%- if execute -%}
        {%- set result = run_query('select coalesce(max(' ~ column ~ '), 0) from ' ~ this) -%}
        {{- result.columns[0].values()[0] | int -}}
    {%- else -%}
        0
    {%- endif -%}
{%- endmacro %}

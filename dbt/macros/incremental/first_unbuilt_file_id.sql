{#
    Raw listings carry no ingest_seq, only their file's id, and a listing
    whose file has no ledger row (what its relationships test looks for) has
    none to look up. Ids are claimed before their files commit, so every
    listing committed since watermark `since` lies at or above the smallest
    id of a file committed (or still being numbered) since; with no such
    file, above every id the ledger holds.
#}
{% macro first_unbuilt_file_id(since) -%}
    (select coalesce(min(file_id) filter (where ingest_seq > {{ since }} or ingest_seq is null), max(file_id) + 1, 0)
     from {{ source('raw', 'ingested_files') }})
{%- endmacro %}

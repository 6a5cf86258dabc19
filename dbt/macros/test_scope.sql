{#
    Incremental builds test what they built, not the whole warehouse.

    `paperhouse build` passes the watermark the marts had before an
    incremental build (build_setting PAPERHOUSE_TEST_SINCE_INGEST_SEQ; 0 for
    a full refresh, and by default). Every generic test on a model below
    then reads only the rows above it, the rows this build wrote: data tests
    cost what the new files cost, while untouched rows were tested by the
    build that wrote them. The nightly full refresh (Dagster) and
    `paperhouse build --full-refresh` test everything.

    `ingest_seq_column` names the column that carries each model's
    ingest_seq, for the models whose tests would otherwise read every row;
    raw listings, which carry none, are scoped by file id instead.
#}
{# dbt's own hook for generic tests' `where` config, extended with the scope above. #}
{% macro get_where_subquery(relation) -%}
    {%- set where = config.get('where', '') -%}
    {%- set column = ingest_seq_column(relation) -%}
    {%- set since = build_setting('PAPERHOUSE_TEST_SINCE_INGEST_SEQ', 0) | int -%}
    {%- set conditions = [] -%}
    {%- if where -%}{%- do conditions.append('(' ~ where ~ ')') -%}{%- endif -%}
    {%- if column and since > 0 -%}{%- do conditions.append(column ~ ' > ' ~ since) -%}{%- endif -%}
    {%- if column and build_setting('PAPERHOUSE_BUILD_THROUGH_INGEST_SEQ') is not none -%}
        {%- do conditions.append(build_bound(column)) -%}
    {%- endif -%}
    {%- if relation.identifier == 'stg_raw__paper_listings' and since > 0 -%}
        {%- do conditions.append('file_id >= ' ~ first_unbuilt_file_id(since)) -%}
    {%- endif -%}
    {%- if conditions -%}
        {%- do return('(select * from ' ~ relation ~ ' where ' ~ conditions | join(' and ') ~ ') dbt_subquery') -%}
    {%- else -%}
        {%- do return(relation) -%}
    {%- endif -%}
{%- endmacro %}


{% macro ingest_seq_column(relation) -%}
    {%- set columns = {
        'int_paper_listings__keyed': 'ingest_seq',
        'fct_paper_listings': 'ingest_seq',
        'dim_papers': 'last_ingest_seq',
        'paper_search_documents': 'last_ingest_seq',
        'paper_title_variants': 'last_ingest_seq',
        'fct_paper_keywords': 'last_ingest_seq',
        'dim_keywords': 'last_ingest_seq',
        'fct_keyword_monthly': 'last_ingest_seq',
    } -%}
    {%- do return(columns.get(relation.identifier)) -%}
{%- endmacro %}


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


{# For singular tests: `column` within what this build wrote (above its starting watermark, up to its bound). #}
{% macro built_this_run(column) -%}
    {{ column }} > {{ build_setting('PAPERHOUSE_TEST_SINCE_INGEST_SEQ', 0) | int }} and {{ build_bound(column) }}
{%- endmacro %}


{#
    A build takes the files committed up to PAPERHOUSE_BUILD_THROUGH_INGEST_SEQ:
    those whose features are extracted (orchestration/build.py sets it).
    Files an ingest commits while the build runs wait for the next build;
    without a bound, dbt run by hand takes everything.
#}
{% macro build_bound(column) -%}
    {%- set through = build_setting('PAPERHOUSE_BUILD_THROUGH_INGEST_SEQ') -%}
    {%- if through is none -%}true{%- else -%}{{ column }} <= {{ through | int }}{%- endif -%}
{%- endmacro %}


{#
    A setting of this one build, from the environment orchestration/build.py
    gives dbt; `default` when unset (a dbt run by hand takes everything and
    tests everything).

    Not --vars, and read only when executing: dbt re-parses the whole project
    whenever --vars differ from the last invocation's, and re-parses a file
    when an env_var() it read while parsing has changed; these values change
    with every build. Read here, they reach the compiled SQL without touching what
    the parser saw, so a build after a build parses nothing (about 3 s saved
    per `paperhouse run`). While parsing, only refs and configs matter.
#}
{% macro build_setting(name, default=none) -%}
    {%- if execute and env_var(name, '') != '' -%}
        {%- do return(env_var(name)) -%}
    {%- else -%}
        {%- do return(default) -%}
    {%- endif -%}
{%- endmacro %}

{#
    A setting of this one build, from the environment its plan gives dbt
    (orchestration/models/plan.py); `default` when unset (a dbt run by hand
    takes everything and tests everything).

    Not --vars, and read only when executing: dbt re-parses the whole project
    whenever --vars differ from the last invocation's, and re-parses a file
    when an env_var() it read while parsing has changed; these values change
    with every build. Read here, they reach the compiled SQL without touching
    what the parser saw, so a build after a build parses nothing (seconds of
    every `paperhouse run`). While parsing, only refs and configs matter.
#}
{% macro build_setting(name, default=none) -%}
    {%- if execute and env_var(name, '') != '' -%}
        {%- do return(env_var(name)) -%}
    {%- else -%}
        {%- do return(default) -%}
    {%- endif -%}
{%- endmacro %}

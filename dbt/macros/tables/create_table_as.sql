{#
    A model whose meta sets `computed_in_parallel` has its table made by
    CREATE TABLE AS, which PostgreSQL may run in parallel, where dbt-postgres
    creates a contracted table with its constraints and fills it by INSERT ...
    SELECT, which it never runs in parallel. It is for a model that runs alone
    at the head of a full build (fct_paper_listings) and computes costly
    values a row at a time (a title key): there the other core would be idle.
    The planner counts no cost for those values, so by its default costs
    handing rows between processes would outweigh the work shared out; the
    costs are set for this statement's transaction.

    The contract still holds: dbt checks the query's column names and types
    against it first (get_assert_columns_equivalent), so the table has the
    contract's types, and the marts' post-hook adds its NOT NULL constraints
    (macro not_null_constraints) in the same transaction. That is a statement
    of its own, after this one, so that dbt still reports the rows this one
    wrote.

    Every other table is made as dbt-postgres makes it: the keyword phase
    already keeps both cores busy with two models, and there parallel
    queries add work.
#}
{% macro postgres__create_table_as(temporary, relation, sql) -%}
    {%- if temporary or not computed_in_parallel() -%}
        {{ return(dbt.postgres__create_table_as(temporary, relation, sql)) }}
    {%- endif -%}
    {%- set sql_header = config.get('sql_header', none) %}

    {{ sql_header if sql_header is not none }}

    {{ get_assert_columns_equivalent(sql) }}

    set local parallel_setup_cost = 10;
    set local parallel_tuple_cost = 0.001;
    create {% if config.get('unlogged', default=false) %}unlogged {% endif -%}
    table {{ relation }} as (
        {{ get_select_subquery(sql) }}
    );
{%- endmacro %}

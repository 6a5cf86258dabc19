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
    (not_null_constraints below) in the same transaction. That is a statement
    of its own, after this one, so that dbt still reports the rows this one
    wrote.

    Every other table is made as dbt-postgres makes it: the keyword phase
    already keeps both cores busy with two models, and there parallel
    queries add work.
#}
{% macro postgres__create_table_as(temporary, relation, sql) -%}
    {%- if temporary or not _computed_in_parallel() -%}
        {{ return(dbt.postgres__create_table_as(temporary, relation, sql)) }}
    {%- endif -%}
    {{ get_assert_columns_equivalent(sql) }}

    set local parallel_setup_cost = 10;
    set local parallel_tuple_cost = 0.001;
    create table {{ relation }} as (
        {{ get_select_subquery(sql) }}
    );
{%- endmacro %}


{#
    The NOT NULL constraints of the model's contract, added to a table that
    create_table_as made (nothing for any other): one ALTER TABLE, which
    checks them all in one scan.
#}
{% macro not_null_constraints(relation) -%}
    {%- if _computed_in_parallel() -%}
        {%- set not_null = [] -%}
        {%- for column in model['columns'].values() -%}
            {%- if column.get('constraints', []) | selectattr('type', 'equalto', 'not_null') | list -%}
                {%- do not_null.append(column['name']) -%}
            {%- endif -%}
        {%- endfor -%}
        {%- if not_null -%}
            alter table {{ relation }}
            {%- for name in not_null %}
                alter column {{ adapter.quote(name) }} set not null{{ "," if not loop.last }}
            {%- endfor %}
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}


{% macro _computed_in_parallel() -%}
    {{ return(
        config.get('contract').enforced
        and config.get('meta', {}).get('computed_in_parallel', false)
    ) }}
{%- endmacro %}

{#
    The NOT NULL constraints of the model's contract, added to a table that
    create_table_as made (nothing for any other): one ALTER TABLE, which
    checks them all in one scan.
#}
{% macro not_null_constraints(relation) -%}
    {%- if computed_in_parallel() -%}
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

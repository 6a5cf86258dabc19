{#
    Whether a full build makes the model's table by CREATE TABLE AS, in
    parallel (macro create_table_as): its meta sets `computed_in_parallel`,
    and it has a contract whose constraints not_null_constraints adds after.
#}
{% macro computed_in_parallel() -%}
    {{ return(
        config.get('contract').enforced
        and config.get('meta', {}).get('computed_in_parallel', false)
    ) }}
{%- endmacro %}

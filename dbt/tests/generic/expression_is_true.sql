{# Every row satisfies `expression` (stands in for dbt_utils.expression_is_true). #}
{% test expression_is_true(model, expression, column_name=None) %}

select *
from {{ model }}
where not ({{ expression }})

{% endtest %}

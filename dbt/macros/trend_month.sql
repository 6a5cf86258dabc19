{#
    The month a paper counts in for keyword trends: its publication month, or
    the month it was first seen when no listing shows a date. One rule for
    fct_paper_keywords and int_paper_keyword_versions, which must agree.
#}
{% macro trend_month(published_on, first_seen_at) -%}
    date_trunc('month', coalesce({{ published_on }}, ({{ first_seen_at }} at time zone 'UTC')::date))::date
{%- endmacro %}

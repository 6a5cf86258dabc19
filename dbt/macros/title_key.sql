{#
    The deduplication key of a paper title: the one place the rule is written.

    Folds Unicode forms (NFKC: ligatures, full-width letters), accents
    (Fréchet = Frechet), case, punctuation, hyphens and runs of white space
    (Long-Range = Long Range); keeps every letter and digit, so numbers and
    numerals still tell papers apart (Llama 2 / Llama 3, Networks / Networks II,
    Yi / Yi 1.5).
#}
{% macro title_key(column) -%}
    trim(regexp_replace(
        lower(public.unaccent(normalize({{ column }}, nfkc))),
        '[^[:alnum:]]+', ' ', 'g'
    ))
{%- endmacro %}


{# A stable id for a title key: the same key gives the same id in every build. #}
{% macro paper_id(title_key) -%}
    md5({{ title_key }})::uuid
{%- endmacro %}

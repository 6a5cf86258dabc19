{#
    The deduplication key of a paper title: the one place the rule is written.

    Folds Unicode forms (NFKC: ligatures, full-width letters), accents
    (Fréchet = Frechet), case, punctuation, hyphens and runs of white space
    (Long-Range = Long Range); keeps every letter and digit, so numbers and
    numerals still tell papers apart (Llama 2 / Llama 3, Networks / Networks II,
    Yi / Yi 1.5).
#}
{#
    A title of ASCII characters only skips NFKC and unaccent, which leave
    ASCII as it is (a test checks all 127 characters): most titles are ASCII,
    and the two were half of the key's cost (3.3 of 7.2 s over a million
    listings). In a UTF8 database, which the migrations insist on, a title is
    ASCII exactly when each character takes one byte.
#}
{% macro title_key(column) -%}
    trim(regexp_replace(
        lower(
            case
                when octet_length({{ column }}) = length({{ column }}) then {{ column }}
                else public.unaccent(normalize({{ column }}, nfkc))
            end
        ),
        '[^[:alnum:]]+', ' ', 'g'
    ))
{%- endmacro %}


{# A stable id for a title key: the same key gives the same id in every build. #}
{% macro paper_id(title_key) -%}
    md5({{ title_key }})::uuid
{%- endmacro %}

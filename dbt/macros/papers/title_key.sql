{#
    The deduplication key of a paper title: the one place the rule is written.

    Drops Unicode format characters (invisible: zero-width spaces and
    joiners, soft hyphens, direction marks), so that one inside a word
    leaves the word whole; folds Unicode forms (NFKC: ligatures, full-width
    letters), accents (Fréchet = Frechet), case, punctuation, hyphens and
    runs of white space (Long-Range = Long Range); keeps every letter and
    digit, so numbers and numerals still tell papers apart (Llama 2 /
    Llama 3, Networks / Networks II, Yi / Yi 1.5).
#}
{#
    A title of ASCII characters only skips NFKC and unaccent, which leave
    ASCII as it is (a test checks all 127 characters): most titles are ASCII,
    and the two are half of the key's cost. In a UTF8 database, which the
    migrations insist on, a title is ASCII exactly when each character takes
    one byte.
#}
{% macro title_key(column) -%}
    trim(regexp_replace(
        lower(
            case
                when octet_length({{ column }}) = length({{ column }}) then {{ column }}
                else public.unaccent(normalize(
                    regexp_replace({{ column }}, '{{ format_characters() }}', '', 'g'), nfkc
                ))
            end
        ),
        '[^[:alnum:]]+', ' ', 'g'
    ))
{%- endmacro %}

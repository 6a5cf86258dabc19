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
    and the two were half of the key's cost (3.3 of 7.2 s over a million
    listings). In a UTF8 database, which the migrations insist on, a title is
    ASCII exactly when each character takes one byte.
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


{# A stable id for a title key: the same key gives the same id in every build. #}
{% macro paper_id(title_key) -%}
    md5({{ title_key }})::uuid
{%- endmacro %}


{#
    Unicode's format characters (general category Cf, Unicode 16), as a
    regular expression's bracket: all of them lie outside ASCII.
    tests/test_models.py checks it against Python's unicodedata.
#}
{% macro format_characters() -%}
[\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890-\u0891\u08e2\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb\U000110bd\U000110cd\U00013430-\U0001343f\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0001\U000e0020-\U000e007f]
{%- endmacro %}

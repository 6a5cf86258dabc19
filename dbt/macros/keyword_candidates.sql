{#
    Candidate keyphrases of papers, the one place the extraction rule is written.

    `papers` names a relation or CTE with paper_id, title and abstract. The
    macro writes CTEs for a `with` clause, the last one `keyword_candidates`:
    one row per (paper_id, phrase), the phrase in display form (lower case,
    its last word made singular), its length in words, and how often it
    occurs in the title and in the abstract.

    The rule, RAKE-like, all in SQL:
    1. fold the text (NFKC, accents, case) and cut it into fragments at
       punctuation, URLs and dashes: a phrase never crosses a comma or a period;
    2. split fragments into words; a function word (seed keyword_stopwords,
       kind 'function'), a number or a symbol ends a run of content words;
    3. every 1-3 word sequence inside a run is a candidate, except one made
       only of generic research words (kind 'generic': model, method, ...);
    4. a candidate that only ever occurs inside one longer candidate (`state
       space` inside `state space model`) gives way to it.
#}
{% macro keyword_candidates(papers) %}

    fields as (

        select paper_id, 'title' as field, title as body from {{ papers }}
        union all
        select paper_id, 'abstract' as field, coalesce(abstract, '') as body from {{ papers }}

    ),

    folded as (

        select
            paper_id,
            field,
            regexp_replace(
                regexp_replace(
                    public.unaccent(normalize(body, nfkc)),
                    'https?://\S+', ' | ', 'g'
                ),
                -- phrase breakers: punctuation, a period or slash between words, dashes
                '[,;:!?()\[\]{}"“”‘’«»|<>=*#@~^&%$/\\]|\.(\s|$)|\s[-–—]+\s|[–—]',
                ' | ', 'g'
            ) as text
        from fields

    ),

    tokens as (

        select
            token.paper_id,
            token.field,
            token.word_no,
            lower(token.word) as word,
            -- a name as written: inner capitals or digits (DeltaNet, LaTRO, GSM8K, BERT)
            token.word ~ '[[:upper:]].*[[:upper:]]|[[:alpha:]].*[0-9]|[0-9].*[[:alpha:]]' as is_named
        from (
            select
                folded.paper_id,
                folded.field,
                raw.word_no,
                regexp_replace(trim(both '''.-' from raw.word), '''[sS]$', '') as word
            from folded
            cross join lateral
                regexp_split_to_table(folded.text, '\s+') with ordinality as raw (word, word_no)
        ) as token

    ),

    classified as (

        -- a word is a stop word as written or in its singular (studies, evaluations)
        select
            tokens.paper_id,
            tokens.field,
            tokens.word_no,
            tokens.word,
            tokens.is_named,
            (
                tokens.word !~ '[[:alpha:]]'             -- numbers, lone symbols
                or tokens.word ~ '^[0-9]'                -- measures: 1.3b, 300h, 3-point
                or tokens.word ~ '[^[:alnum:].+''-]'     -- anything else that is not a word
                or length(tokens.word) < 2
                or coalesce(as_written.kind, as_singular.kind) = 'function'
                -- adverbs (compositionally, respectively) end a phrase too
                or (tokens.word ~ '[a-z]{3}ly$' and tokens.word not in
                    ('anomaly', 'family', 'assembly', 'supply', 'monopoly', 'butterfly', 'italy'))
            ) is true as is_breaker,
            coalesce(as_written.kind, as_singular.kind) = 'generic' is true as is_generic
        from tokens
        left join {{ ref('keyword_stopwords') }} as as_written
            on as_written.word = tokens.word
        left join {{ ref('keyword_stopwords') }} as as_singular
            on as_singular.word = {{ singular('tokens.word') }}

    ),

    runs as (

        -- content words, numbered into runs that breakers separate
        select
            paper_id,
            field,
            word_no,
            word,
            is_generic,
            is_named,
            run_no
        from (
            select
                *,
                sum(case when is_breaker then 1 else 0 end)
                    over (partition by paper_id, field order by word_no) as run_no
            from classified
        ) as numbered
        where not is_breaker

    ),

    grams as (

        select
            one.paper_id, one.field, one.word_no,
            1 as word_count,
            one.word as words,
            one.word as last_word,
            one.is_generic as all_generic,
            one.is_named as any_named
        from runs as one

        union all

        select
            one.paper_id, one.field, one.word_no,
            2,
            one.word || ' ' || two.word,
            two.word,
            one.is_generic and two.is_generic,
            one.is_named or two.is_named
        from runs as one
        inner join runs as two
            on two.paper_id = one.paper_id and two.field = one.field
            and two.run_no = one.run_no and two.word_no = one.word_no + 1

        union all

        select
            one.paper_id, one.field, one.word_no,
            3,
            one.word || ' ' || two.word || ' ' || three.word,
            three.word,
            one.is_generic and two.is_generic and three.is_generic,
            one.is_named or two.is_named or three.is_named
        from runs as one
        inner join runs as two
            on two.paper_id = one.paper_id and two.field = one.field
            and two.run_no = one.run_no and two.word_no = one.word_no + 1
        inner join runs as three
            on three.paper_id = one.paper_id and three.field = one.field
            and three.run_no = one.run_no and three.word_no = one.word_no + 2

        union all

        -- `X of Y` across the `of` (mixture of experts, curse of dimensionality)
        -- when X starts a run and Y ends one, so the phrase is a whole noun
        -- phrase, and X does not merely count or sort Y (number of, set of)
        select
            one.paper_id, one.field, one.word_no,
            3,
            one.word || ' of ' || three.word,
            null,
            one.is_generic or three.is_generic,
            one.is_named or three.is_named
        from runs as one
        inner join classified as two
            on two.paper_id = one.paper_id and two.field = one.field
            and two.word_no = one.word_no + 1 and two.word = 'of'
        inner join runs as three
            on three.paper_id = one.paper_id and three.field = one.field
            and three.word_no = one.word_no + 2
        where not exists (
                select 1 from runs as before
                where before.paper_id = one.paper_id and before.field = one.field
                    and before.run_no = one.run_no and before.word_no = one.word_no - 1
            )
            and not exists (
                select 1 from runs as after
                where after.paper_id = three.paper_id and after.field = three.field
                    and after.run_no = three.run_no and after.word_no = three.word_no + 1
            )
            and one.word not in (
            'number', 'numbers', 'set', 'sets', 'lack', 'range', 'variety', 'kind', 'kinds', 'type',
            'types', 'amount', 'amounts', 'class', 'family', 'collection', 'part', 'parts', 'use',
            'form', 'forms', 'level', 'levels', 'degree', 'terms', 'order', 'example', 'examples',
            'size', 'quality', 'ability', 'value', 'values', 'point', 'points', 'end', 'means',
            'aim', 'goal', 'basis', 'effect', 'effects', 'impact', 'importance', 'role', 'success',
            'analysis', 'study', 'studies', 'evaluation', 'performance', 'lot', 'lots', 'majority',
            'state-of-the-art', 'thousands', 'millions', 'billions', 'hundreds', 'dozens'
        )

    ),

    counted as (

        select
            paper_id,
            words,
            max(word_count) as word_count,
            bool_and(all_generic) as all_generic,
            bool_or(any_named) as is_named,
            max(last_word) as last_word,
            count(*) filter (where field = 'title') as title_occurrences,
            count(*) filter (where field = 'abstract') as abstract_occurrences,
            count(*) as occurrences
        from grams
        group by paper_id, words

    ),

    dominated as (

        -- a candidate gives way to a longer one that contains it and occurs as
        -- often, except to a mere generic tail: `hard attention` stands,
        -- `hard attention model` adds nothing to it
        select distinct shorter.paper_id, shorter.words
        from counted as shorter
        inner join counted as longer
            on longer.paper_id = shorter.paper_id
            and longer.word_count = shorter.word_count + 1
            and longer.occurrences >= shorter.occurrences
            and (
                longer.words like shorter.words || ' %'
                or longer.words like '% ' || shorter.words
            )
        left join {{ ref('keyword_stopwords') }} as tail
            on tail.kind = 'generic'
            and longer.words = shorter.words || ' ' || tail.word
        where tail.word is null
            or shorter.word_count = 1
            or shorter.last_word ~ '(al|ive|ous|ful|less|able|ible)$'

    ),

    candidates as (

        select
            counted.paper_id,
            -- display form: lower case, the last word singular
            case
                when counted.last_word is null then counted.words  -- `X of Y` stays as written
                else left(counted.words, length(counted.words) - length(counted.last_word))
                    || {{ singular('counted.last_word') }}
            end as phrase,
            counted.word_count,
            counted.is_named,
            counted.title_occurrences,
            counted.abstract_occurrences
        from counted
        left join dominated
            on dominated.paper_id = counted.paper_id and dominated.words = counted.words
        where dominated.paper_id is null
            and not counted.all_generic

    ),

    keyword_candidates as (

        select
            paper_id,
            phrase,
            max(word_count) as word_count,
            bool_or(is_named) as is_named,
            sum(title_occurrences)::integer as title_occurrences,
            sum(abstract_occurrences)::integer as abstract_occurrences
        from candidates
        group by paper_id, phrase

    )

{% endmacro %}


{#
    The singular of an English noun, by rule: enough for the last word of a
    keyphrase (models -> model, strategies -> strategy, approaches -> approach)
    without a dictionary. Words that only look plural are kept.
#}
{% macro singular(word) -%}
    case
        when {{ word }} in ('series', 'species', 'news', 'physics', 'mathematics', 'robotics',
                            'dynamics', 'statistics', 'linguistics', 'economics', 'ethics',
                            'genomics', 'analytics', 'semantics', 'pragmatics', 'kinetics',
                            'movies', 'cookies', 'lens', 'bias', 'gas', 'atlas', 'canvas')
            then {{ word }}
        when {{ word }} in ('matrices', 'vertices', 'indices', 'appendices')
            then regexp_replace({{ word }}, 'ices$', 'ix')
        when {{ word }} in ('hypotheses', 'analyses', 'syntheses', 'theses', 'diagnoses', 'bases')
            then regexp_replace({{ word }}, 'es$', 'is')
        when {{ word }} in ('criteria', 'phenomena') then regexp_replace({{ word }}, 'a$', 'on')
        when {{ word }} ~ '(ss|us|is|ics)$' then {{ word }}
        when {{ word }} ~ '[^aeiou]ies$' and length({{ word }}) > 4
            then regexp_replace({{ word }}, 'ies$', 'y')
        when {{ word }} ~ '(ch|sh|x|ss|zz)es$' then regexp_replace({{ word }}, 'es$', '')
        when {{ word }} ~ '[^s]s$' and length({{ word }}) > 3 then regexp_replace({{ word }}, 's$', '')
        else {{ word }}
    end
{%- endmacro %}

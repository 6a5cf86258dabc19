{#
    CTEs for a keyword mart's incremental build, from the keyword sets of the
    papers touched since the mart's watermark:

    - `latest_versions`: each touched paper's newest keyword set (Q);
    - `previous_versions`: the set it had before (P), which the mart counts now;
    - `gained` / `lost`: (paper, keyword, month) rows in Q but not P, and in
      P but not Q, each with its version's last_ingest_seq.

    The marts move their counts by what was gained and lost (work in
    proportion to the new files, however popular a keyword is) and recount
    from scratch only a row whose maximum a lost paper may have held. A
    recount is idempotent, so a build that runs again over the same versions
    changes nothing; gains always move the mart's watermark past their version.
#}
{% macro touched_keyword_versions() %}

    new_versions as (

        select *
        from {{ ref('fct_paper_keyword_versions') }}
        where last_ingest_seq > {{ ingest_seq_watermark('last_ingest_seq') }}

    ),

    latest_versions as (

        select distinct on (paper_id) *
        from new_versions
        order by paper_id, last_ingest_seq desc

    ),

    previous_versions as (

        select distinct on (older.paper_id) older.*
        from {{ ref('fct_paper_keyword_versions') }} as older
        inner join new_versions on new_versions.paper_id = older.paper_id
        where older.last_ingest_seq < (
            select min(last_ingest_seq) from new_versions as newer
            where newer.paper_id = older.paper_id
        )
        order by older.paper_id, older.last_ingest_seq desc

    ),

    latest_rows as (

        select latest.paper_id, latest.trend_month as month, latest.last_ingest_seq, keyword
        from latest_versions as latest
        cross join lateral unnest(latest.keywords) as keyword

    ),

    previous_rows as (

        select previous.paper_id, previous.trend_month as month, previous.last_ingest_seq, keyword
        from previous_versions as previous
        cross join lateral unnest(previous.keywords) as keyword

    ),

    gained as (

        select paper_id, keyword, month, last_ingest_seq from latest_rows
        where (paper_id, keyword, month) not in (select paper_id, keyword, month from previous_rows)

    ),

    lost as (

        select paper_id, keyword, month, last_ingest_seq from previous_rows
        where (paper_id, keyword, month) not in (select paper_id, keyword, month from latest_rows)

    )

{% endmacro %}

-- The features layer: what paperhouse derives from each raw listing once,
-- between ingest and the dbt build (orchestration.features): its
-- keyphrases (Python) and its full-text search document (PostgreSQL).
-- Derived, so it can be dropped and recomputed from raw at any time; keyed
-- like raw.paper_listings. A full dbt rebuild reuses it instead of redoing it.

create schema if not exists features;
comment on schema features is
    'Per-listing features computed from raw listings before the dbt build (keyphrases, search documents); recomputable from raw.';

-- One row per loaded file whose listings have their features.
create table features.extracted_files (
    file_id            bigint primary key references raw.ingested_files (file_id) on delete cascade,
    extractor_version  text not null,
    listing_count      integer not null check (listing_count >= 0),
    extracted_at       timestamptz not null default now()
);
comment on table features.extracted_files is
    'Files whose listings have their features, and the extractor version (keyphrase rule and word lists) that computed them. '
    'A file missing here, or with another version, is extracted by the next build.';

-- The keyphrases of each listing, best first, as parallel arrays: one row per
-- listing keeps a million listings at a million rows (ten per listing would
-- cost ten times the COPY and the index).
create table features.listing_keywords (
    file_id      bigint not null references features.extracted_files (file_id) on delete cascade,
    position     integer not null,
    keywords     text[] not null,
    scores       double precision[] not null,
    in_title     boolean[] not null,
    occurrences  integer[] not null,
    primary key (file_id, position),
    check (array_position(keywords, null) is null),
    check (cardinality(keywords) = cardinality(scores)
           and cardinality(keywords) = cardinality(in_title)
           and cardinality(keywords) = cardinality(occurrences))
);
comment on table features.listing_keywords is
    'Up to ten keyphrases of each loaded listing (from its own title and abstract), best first; '
    'keywords[i] scored scores[i]. analytics.fct_paper_keywords gives each paper those of the listing its abstract comes from.';


-- The full-text search document of each listing: title (weight A) and
-- abstract (weight B) as an English tsvector. Computing it costs PostgreSQL
-- about 60 us a listing, which in dim_papers made a full build of a million
-- listings a minute longer; here it is computed once, beside the keyphrases.
create table features.listing_search_documents (
    file_id          bigint not null references features.extracted_files (file_id) on delete cascade,
    position         integer not null,
    search_document  tsvector not null,
    primary key (file_id, position)
);
comment on table features.listing_search_documents is
    'Title (weight A) and abstract (weight B) of each loaded listing as an English tsvector; '
    'analytics.dim_papers.search_document is that of the listing its abstract comes from.';

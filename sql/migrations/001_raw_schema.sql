-- The raw layer: what the listing files said, one row per file and one per listing.
-- A public contract: dbt sources, the CLI and users' own queries depend on these names.

create schema if not exists raw;
comment on schema raw is 'Listing files as ingested: the ledger of files and their listings, verbatim.';

---------- the ledger of files

-- Numbers files in the order their transactions commit (see ingest_seq below).
create sequence raw.ingest_seq_seq as bigint;

create table raw.ingested_files (
    file_id         bigint generated always as identity primary key,
    file_name       text not null,
    sha256          text not null check (sha256 ~ '^[0-9a-f]{64}$'),
    size_bytes      bigint not null check (size_bytes >= 0),
    status          text not null check (status in ('loaded', 'duplicate', 'empty', 'rejected')),
    listing_count   integer not null default 0 check (listing_count >= 0),
    error           text,
    parser_version  integer not null,
    ingested_at     timestamptz not null default now(),
    -- beyond the contract: what the parser found, for audits and re-parsing
    layout          text check (layout in ('compact', 'blocks', 'blocks_with_metadata')),
    encoding        text,
    scraped_on      date,
    duplicate_of    bigint references raw.ingested_files (file_id),
    -- set last in the file's transaction, under a lock held until commit
    ingest_seq      bigint unique,
    check ((status = 'duplicate') = (duplicate_of is not null)),
    check (status = 'loaded' or listing_count = 0)
);

-- A file's identity is its bytes: each content is ingested once. Later copies
-- under other names are recorded as duplicates, once per name.
create unique index ingested_files_sha256_key
    on raw.ingested_files (sha256) where status <> 'duplicate';
create unique index ingested_files_duplicate_name_key
    on raw.ingested_files (sha256, file_name) where status = 'duplicate';
create index ingested_files_ingested_at_idx on raw.ingested_files (ingested_at);

comment on table raw.ingested_files is
    'One row per listing file seen. sha256 is unique among files that are not duplicates; '
    'a duplicate (the same bytes under another name) points at the original through duplicate_of.';
comment on column raw.ingested_files.file_id is 'Surrogate key of the file, referenced by raw.paper_listings.';
comment on column raw.ingested_files.file_name is 'The file''s name when it was ingested (no folder).';
comment on column raw.ingested_files.sha256 is 'SHA-256 of the file''s bytes, lower-case hex: the file''s identity.';
comment on column raw.ingested_files.size_bytes is 'Size of the file in bytes.';
comment on column raw.ingested_files.status is
    'loaded: its listings are in raw.paper_listings; duplicate: same bytes as duplicate_of; '
    'empty: no content; rejected: not a listing file, see error.';
comment on column raw.ingested_files.listing_count is 'Listings loaded from the file (0 unless loaded).';
comment on column raw.ingested_files.error is
    'For rejected files the reason; for others warnings, one a line (null when there are none).';
comment on column raw.ingested_files.parser_version is 'Version of the parsing rules that read the file.';
comment on column raw.ingested_files.ingested_at is 'When the file was ingested (the start of its transaction).';
comment on column raw.ingested_files.layout is 'The page layout the parser recognised: compact, blocks, blocks_with_metadata.';
comment on column raw.ingested_files.encoding is 'The text encoding the file was read with.';
comment on column raw.ingested_files.scraped_on is
    'The day the page was scraped: its page date, else the file''s modification day; dates without a year are placed on or before it.';
comment on column raw.ingested_files.duplicate_of is 'For a duplicate, the file_id of the file with the same bytes.';
comment on column raw.ingested_files.ingest_seq is
    'Commit order of the file''s transaction: whoever sees a file sees every file with a smaller ingest_seq. '
    'The safe watermark for incremental models (file_id and timestamps follow transaction start, not commit).';

---------- the listings

create table raw.paper_listings (
    file_id         bigint not null references raw.ingested_files (file_id) on delete cascade,
    position        integer not null check (position >= 1),
    line_number     integer not null check (line_number >= 1),
    title           text not null check (title <> ''),
    abstract        text not null,
    authors_count   integer check (authors_count >= 0),
    organization    text,
    published_text  text,
    published_on    date,
    upvotes         integer check (upvotes >= 0),
    loaded_at       timestamptz not null default now(),
    primary key (file_id, position)
);

create index paper_listings_loaded_at_idx on raw.paper_listings (loaded_at);

comment on table raw.paper_listings is
    'One row per listing occurrence: a paper as it appeared at one position of one file, verbatim.';
comment on column raw.paper_listings.file_id is 'The file it came from (raw.ingested_files).';
comment on column raw.paper_listings.position is 'Order of the listing in its file, from 1.';
comment on column raw.paper_listings.line_number is 'Line of the file (from 1) where the listing''s title stands.';
comment on column raw.paper_listings.title is 'The title as written.';
comment on column raw.paper_listings.abstract is 'The abstract as written.';
comment on column raw.paper_listings.authors_count is 'The author count shown with the listing, when shown.';
comment on column raw.paper_listings.organization is 'The organization shown instead of an author count, when shown.';
comment on column raw.paper_listings.published_text is 'The publication date as written on the page, without the upvote count.';
comment on column raw.paper_listings.published_on is
    'The publication date; a date written without a year takes the year that puts it on or before the file''s scrape date.';
comment on column raw.paper_listings.upvotes is 'The upvote count shown after the date, when shown.';
comment on column raw.paper_listings.loaded_at is 'When the listing was loaded (the start of its file''s transaction, the same as the file''s ingested_at).';

-- features.listing_keywords and features.listing_search_documents drop their
-- foreign keys to features.extracted_files, as raw.paper_listings did in 005.
--
-- PostgreSQL checks a key with a query for every row written, and every
-- listing writes a row to both tables: the checks are a large share of the
-- features step's work (docs/benchmarks.md, "Session 17"). They guard nothing
-- the features step does not: a file's extraction row and its listings'
-- features are written in one transaction (orchestration/features.py), and
-- dbt's relationships tests on the two staging models check on each build
-- that every row has its file's extraction row.
--
-- What the keys' ON DELETE CASCADE did, these triggers do, once per statement
-- rather than once per row written: deleting extraction rows (a re-extraction,
-- `paperhouse reingest`, a file deleted from the ledger, which cascades to
-- them) deletes their listings' features, and truncating extracted_files
-- truncates both tables.

alter table features.listing_keywords
drop constraint if exists listing_keywords_file_id_fkey;

alter table features.listing_search_documents
drop constraint if exists listing_search_documents_file_id_fkey;

create function features.forget_deleted_extractions() returns trigger
language plpgsql as $$
begin
    delete from features.listing_keywords as keywords
    using deleted_extractions
    where keywords.file_id = deleted_extractions.file_id;
    delete from features.listing_search_documents as documents
    using deleted_extractions
    where documents.file_id = deleted_extractions.file_id;
    return null;
end;
$$;

create trigger extracted_files_forget_features
after delete on features.extracted_files
referencing old table as deleted_extractions
for each statement execute function features.forget_deleted_extractions();

create function features.forget_all_extractions() returns trigger
language plpgsql as $$
begin
    truncate features.listing_keywords, features.listing_search_documents;
    return null;
end;
$$;

create trigger extracted_files_truncate_features
after truncate on features.extracted_files
for each statement execute function features.forget_all_extractions();

comment on column features.listing_keywords.file_id is
    'The file of the listing (features.extracted_files.file_id; no foreign key, see migration 013).';
comment on column features.listing_search_documents.file_id is
    'The file of the listing (features.extracted_files.file_id; no foreign key, see migration 013).';

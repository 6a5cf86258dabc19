-- A file name is bytes, and not every name is UTF-8 text (`bad\xffname.txt`).
-- file_name holds the name as text, each byte that does not decode shown as
-- U+FFFD; file_name_bytes keeps the bytes of such a name, so that two names
-- that differ only there stay two names. Null for a UTF-8 name, which
-- file_name holds exactly.

alter table raw.ingested_files add column if not exists file_name_bytes bytea;

comment on column raw.ingested_files.file_name_bytes is
    'The file name''s bytes when they are not UTF-8 (file_name then shows each undecodable byte as U+FFFD); null otherwise.';

-- A copy of known bytes is recorded once per name, the name's bytes included.
create unique index if not exists ingested_files_duplicate_name_bytes_key
    on raw.ingested_files (sha256, file_name, file_name_bytes) nulls not distinct
    where status = 'duplicate';
drop index if exists raw.ingested_files_duplicate_name_key;

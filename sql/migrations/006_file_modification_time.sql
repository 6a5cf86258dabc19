-- raw.ingested_files records when the file was last modified, as the inbox
-- showed it. A later run that finds a file of the same name, size and
-- modification time knows it without reading it: an inbox keeps every file
-- it ever received, and hashing all of them on every run cost a second per
-- gigabyte of inbox (see orchestration/ingest/batch.py).

alter table raw.ingested_files add column if not exists modified_at timestamptz;

comment on column raw.ingested_files.modified_at is
    'The file''s modification time when it was ingested (null for files ingested before migration 006).';

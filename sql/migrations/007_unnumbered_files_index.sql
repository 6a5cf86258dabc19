-- Ingest commits a group of files in one transaction and numbers them
-- (ingest_seq) as its last step, under the commit-order lock. A row without
-- a number is always the numbering transaction's own: every committed row has
-- one, and other transactions' uncommitted rows are invisible to it. This
-- partial index finds those few rows without reading the ledger.

create index if not exists ingested_files_unnumbered_idx
    on raw.ingested_files (file_id) where ingest_seq is null;

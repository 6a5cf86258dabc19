-- A listing whose text the keyphrase rule raised on keeps a row with no
-- keyphrases and the error, instead of stopping the features step for every
-- listing after it (orchestration/features.py). Its text digest stays null,
-- so a later listing of the same text is computed again rather than copied
-- from it. The error goes when the file is extracted again: a fix to the rule
-- bumps the extractor version, which extracts every listing again.
alter table features.listing_keywords
    add column extraction_error text,
    add constraint listing_keywords_extraction_error_check check (
        extraction_error is null or (cardinality(keywords) = 0 and text_digest is null)
    );

-- The check no_keyphrase_error reads the few rows with an error after every
-- run: an index of those rows alone spares it a scan of every listing.
create index listing_keywords_extraction_error_idx on features.listing_keywords (file_id, position)
where extraction_error is not null;

comment on column features.listing_keywords.extraction_error is
    'Why the listing has no keyphrases when the keyphrase rule raised on its text (the exception and where it was raised); null otherwise.';

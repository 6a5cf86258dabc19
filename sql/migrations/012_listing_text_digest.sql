-- A relisted paper brings the same title and abstract again, and its
-- features are the same: the features step copies them from an earlier
-- listing of the same text instead of computing them again. The digest finds
-- that listing; rows written before this have none and are never copied.
alter table features.listing_keywords add column text_digest uuid;

create index listing_keywords_text_digest_idx on features.listing_keywords (text_digest);

comment on column features.listing_keywords.text_digest is
    'md5 of the listing''s title, a line break and its abstract (as a uuid): listings of the same text share their features.';

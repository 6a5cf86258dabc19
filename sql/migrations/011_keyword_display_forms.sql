-- Each keyphrase also as the paper writes it (LoRA, GPT-4, Mamba-2), beside
-- the key that trends group by (lora, gpt-4, mamba-2). Rows written before
-- this have none: the extractor's version changed with it, so the next build
-- extracts every listing again, and until then the models fall back to the key.
alter table features.listing_keywords
    add column display_keywords text[],
    add constraint listing_keywords_display_keywords_check check (
        display_keywords is null
        or (
            cardinality(display_keywords) = cardinality(keywords)
            and array_position(display_keywords, null) is null
        )
    );

comment on column features.listing_keywords.display_keywords is
    'keywords[i] as the listing writes it: its most frequent written form, capitals kept, last word singular.';

-- The marts are named dim_ or fct_ by what they hold: paper_title_variants is
-- now dim_paper_title_variants, paper_search_documents
-- dim_paper_search_documents, and intermediate.int_paper_keyword_versions
-- (a history the keyword marts read) analytics.fct_paper_keyword_versions.
-- The next build makes the new ones in full; the old tables are derived
-- data, dropped here so that no one reads a table that no longer changes.
-- One a user's own view still depends on is left, with a notice.

do $$
declare
    old_table text;
begin
    foreach old_table in array array[
        'analytics.paper_title_variants',
        'analytics.paper_search_documents',
        'intermediate.int_paper_keyword_versions'
    ] loop
        begin
            execute format('drop table if exists %s', old_table);
        exception when dependent_objects_still_exist then
            raise notice 'paperhouse: % is kept: other objects depend on it', old_table;
        end;
    end loop;
end $$;

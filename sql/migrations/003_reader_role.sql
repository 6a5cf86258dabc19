-- paperhouse_reader: the group role of BI tools and analysts' logins.
-- It may read the marts in schema analytics and nothing else: no raw, no
-- staging, no writes, no new objects anywhere (not even temporary tables).
-- dbt's `grants` give it SELECT on every mart after each build; logins join
-- it with `paperhouse db create-reader NAME`.

do $$
begin
    create role paperhouse_reader nologin;
exception when duplicate_object then
    null;  -- roles belong to the server: another database created it already
end $$;

create schema if not exists analytics;
grant usage on schema analytics to paperhouse_reader;

-- PostgreSQL 15+ no longer lets PUBLIC create in schema public; older servers
-- did. (The database-level TEMPORARY privilege is in sql/repeatable/.)
revoke create on schema public from public;

comment on role paperhouse_reader is
    'paperhouse: read-only access to the marts in schema analytics (BI tools, analysts).';

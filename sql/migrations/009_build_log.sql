-- meta.builds: one row per dbt build of the marts, whoever started it (the
-- CLI, a sensor's or a schedule's run, a click in the Dagster UI).
--
-- A build is planned from the warehouse's state, never from what the step
-- before it happened to do (orchestration/models/plan.py): among other things,
-- whether the keyphrases the marts hold came from the current extractor,
-- which the latest successful build's extractor_version tells.

create table meta.builds (
    build_id            bigint generated always as identity primary key,
    started_at          timestamptz not null default now(),
    finished_at         timestamptz,
    succeeded           boolean,
    full_refresh        boolean not null,
    selection           text,
    through_ingest_seq  bigint not null,
    extractor_version   text not null
);

comment on table meta.builds is
    'One row per dbt build: when, whether it succeeded, whether it was a full refresh, the files it took '
    '(up to through_ingest_seq) and the keyword extractor whose features it read.';
comment on column meta.builds.selection is 'dbt''s --select when only part of the project was built; null for all of it.';
comment on column meta.builds.succeeded is 'Null while it runs (or if its process died); then true or false.';

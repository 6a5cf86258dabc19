-- Run once by the postgres image on a new volume: Dagster's own storage, and
-- Superset's (the optional `bi` profile), get databases beside the warehouse.
create database dagster;
create database superset;

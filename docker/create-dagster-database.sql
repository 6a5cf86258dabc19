-- Run once by the postgres image on a new volume: Dagster's own storage gets
-- a database of its own beside the warehouse.
create database dagster;

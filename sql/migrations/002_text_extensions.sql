-- Text functions the models use: unaccent folds accents in the title key
-- (Fréchet = Frechet) and in keyword phrases; pg_trgm serves similarity search.
-- Both are trusted extensions: a database owner may create them without superuser.

create extension if not exists unaccent;
create extension if not exists pg_trgm;

-- Database-level privileges, applied on every start (idempotent).
-- They belong to the database itself, not to its contents, so a database
-- created from a template or restored from a dump does not carry them: a
-- versioned migration, applied once, would not be enough.

-- PUBLIC may create temporary tables by default; readers must create nothing.
do $$
begin
    execute format('revoke temporary on database %I from public', current_database());
end $$;

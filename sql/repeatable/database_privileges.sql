-- Database-level privileges, applied on every start (idempotent).
-- They belong to the database itself, not to its contents, so a database
-- created from a template or restored from a dump does not carry them: a
-- versioned migration, applied once, would not be enough.

-- PUBLIC may create temporary tables by default; readers must create nothing.
do $$
begin
    execute format('revoke temporary on database %I from public', current_database());
end $$;

-- Built-in functions every login may call by default and that write or hold
-- what paperhouse needs: large objects (stored in pg_largeobject), WAL
-- messages, transaction ids (burning them brings the server closer to
-- wraparound), notifications through a function, and the advisory locks
-- with which ingest, builds and migrations take turns (a reader holding one
-- would stop them all). They are taken from PUBLIC in this database and
-- given back to the login that runs paperhouse. Only a superuser may change
-- the privileges of built-in functions: on a server where paperhouse's
-- login is not one, a notice says so and the defaults stay.
do $$
declare
    fn regprocedure;
begin
    for fn in
        select p.oid::regprocedure
        from pg_proc as p
        where p.pronamespace = 'pg_catalog'::regnamespace
          and (
              p.proname in (
                  'lo_creat', 'lo_create', 'lo_from_bytea', 'lo_put', 'lo_open', 'lo_close',
                  'loread', 'lowrite', 'lo_lseek', 'lo_lseek64', 'lo_tell', 'lo_tell64',
                  'lo_truncate', 'lo_truncate64', 'lo_unlink', 'lo_get',
                  'pg_notify', 'pg_logical_emit_message',
                  'txid_current', 'pg_current_xact_id'
              )
              or p.proname like 'pg\_advisory\_%'
              or p.proname like 'pg\_try\_advisory\_%'
          )
          -- still PUBLIC's (no ACL is the default, which grants PUBLIC): a
          -- start after the first changes nothing
          and (
              p.proacl is null
              or exists (
                  select from aclexplode(p.proacl) as entry
                  where entry.grantee = 0 and entry.privilege_type = 'EXECUTE'
              )
          )
    loop
        execute format('revoke execute on function %s from public', fn);
        execute format('grant execute on function %s to %I', fn, current_user);
    end loop;
exception when insufficient_privilege then
    raise notice 'paperhouse: % may not change the privileges of built-in functions, so reader logins '
        'keep PostgreSQL''s defaults for large objects, notifications and advisory locks', current_user;
end $$;

"""The `paperhouse` command line: thin commands over ingest, the models, questions and the database.

One module a group: pipeline (ingest, reingest, run, build, calibrate,
status), tools (ui, dbt, docs, bi), questions (sql, search, paper, keywords,
export) and database (db ...); `app` holds what they share.
Exit codes: 0 when every file got a status (rejected files included), 1 when
the warehouse, a query or the build failed or the output could not be written,
2 for a usage error, 141 when the reader of its output stopped reading
(app.READER_LEFT).

This package imports nothing at its top. A worker process (ingest, features)
is started by spawn, which runs the parent's main script again, and the
`paperhouse` script imports `main` from here: were the command line
imported here, every worker would import every command before its first
job.
"""


def main() -> None:
    import gc

    from orchestration.cli.app import app

    try:
        app()
    finally:
        # The interpreter's teardown collects every object several times over,
        # tens of milliseconds at every command's exit. The commands close their
        # connections, pools and files themselves, so frozen objects are left
        # uncollected on the way out; atexit handlers still run.
        gc.freeze()

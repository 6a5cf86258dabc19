"""paperhouse: a PostgreSQL warehouse of research-paper listings.

Subpackages follow the data: `ingest` (inbox files to raw tables) and
`warehouse` (the database: connection, embedded server, migrations); `cli`
is the command line over them.
"""

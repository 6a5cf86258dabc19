"""The BI side: Apache Superset over the warehouse's marts (`paperhouse bi`, `make bi`).

`dashboard` is the dashboard as code (each chart reads one of sql/queries/),
written as the bundle Superset imports; `superset` prepares Superset's
metadata database, its reader login and its secrets, and serves it;
`superset_config` is the configuration Superset itself reads.
"""

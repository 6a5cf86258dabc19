"""Superset's configuration for `paperhouse bi` and the compose stack's `bi` profile.

Superset reads this file (SUPERSET_CONFIG_PATH) in its own virtual
environment; everything that differs between machines comes from the
environment `orchestration/bi/superset.py` (or compose) sets.
"""

import os

SECRET_KEY = os.environ["SUPERSET_SECRET_KEY"]
# Superset's own tables live in a database of their own beside the warehouse.
SQLALCHEMY_DATABASE_URI = os.environ["PAPERHOUSE_BI_METADATA_URL"]
# One machine, no Redis: rate limits are counted in memory (Superset warns otherwise).
RATELIMIT_STORAGE_URI = "memory://"
# No SQLite file may be added as a database through the UI (the charts read the warehouse).
PREVENT_UNSAFE_DB_CONNECTIONS = True

# Superset opens on its home page, which it routes itself; paperhouse opens on its dashboard.
LANDING_PAGE = os.environ.get("PAPERHOUSE_BI_LANDING_PAGE", "/superset/dashboard/paperhouse/")


def FLASK_APP_MUTATOR(app):
    from flask import Response, redirect, request, session

    @app.before_request
    def open_on_the_dashboard():
        # "/" is where a login lands and where a bare URL goes; a login-less visit is sent on
        # to the login page by the dashboard itself, and comes back to it
        if request.path == "/":
            return redirect(LANDING_PAGE)
        return None

    @app.before_request
    def drop_logs_sent_before_login():
        # The login page beacons its events to /superset/log/ as the form is sent. Superset
        # answers a visitor not logged in with a redirect that writes a new, anonymous session
        # cookie; on a busy server that answer can arrive after the login's own and overwrite
        # it, and the user is logged out again on the next page. An anonymous event has
        # nothing to log: it is answered here without touching the session (the check reads
        # the cookie only, as Flask-Login's user lookup would modify it).
        if request.path == "/superset/log/" and "_user_id" not in session:
            return Response(status=204)
        return None

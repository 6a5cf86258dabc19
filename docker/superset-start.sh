#!/bin/sh
# The superset service of the compose stack's `bi` profile: what `paperhouse bi`
# does (orchestration/bi/superset.py), with its secrets from .env.
set -eu

superset db upgrade
# a second start finds the admin there; its password stays the one first set
superset fab create-admin --username admin --firstname paperhouse --lastname admin \
    --email admin@localhost --password "$SUPERSET_ADMIN_PASSWORD" || true
superset init

bundle=$(mktemp -d)/dashboard.zip
python -m orchestration.bi.dashboard --out "$bundle" \
    --reader-uri "postgresql+psycopg2://superset_reader@warehouse:5432/${POSTGRES_DB}"
superset import-dashboards --path "$bundle" --username admin
rm -f "$bundle"

exec gunicorn --bind 0.0.0.0:8088 --workers 2 --worker-class gthread --threads 4 \
    --timeout 120 --log-level warning "superset.app:create_app()"

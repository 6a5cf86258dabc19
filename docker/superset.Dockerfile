# Apache Superset for the compose stack's `bi` profile: the same pinned packages
# as `make bi` (orchestration/bi/requirements.txt), the same configuration and
# the same dashboard (orchestration/bi/dashboard.py).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    SUPERSET_CONFIG_PATH=/app/orchestration/bi/superset_config.py \
    FLASK_APP=superset

WORKDIR /app
COPY orchestration/bi/requirements.txt /tmp/requirements.txt
RUN pip install --no-cache-dir -r /tmp/requirements.txt
# The dashboard's bundle is written by a standard-library module that reads sql/queries/.
COPY orchestration/__init__.py ./orchestration/
COPY orchestration/bi ./orchestration/bi
COPY sql/queries ./sql/queries
COPY docker/superset-start.sh /app/superset-start.sh

EXPOSE 8088
CMD ["sh", "/app/superset-start.sh"]

# One image for the three paperhouse services of docker-compose.yml: the code
# location (gRPC), the Dagster webserver and the Dagster daemon.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    DBT_SEND_ANONYMOUS_USAGE_STATS=false \
    DAGSTER_HOME=/opt/dagster/home

WORKDIR /app
COPY pyproject.toml README.md ./
COPY orchestration ./orchestration
COPY sql ./sql
COPY dbt ./dbt
# Editable: paperhouse finds sql/ and dbt/ beside its package. The compiled
# modules (the keyphrase counter, the listing reader) are built here, the
# compiler removed again; the package's bytecode is written once here, since
# PYTHONDONTWRITEBYTECODE keeps every process from writing it.
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev \
    && pip install --no-cache-dir -e '.[compile]' \
    && python -m orchestration.compiled \
    && python -m compileall -q orchestration \
    && apt-get purge -y gcc libc6-dev && apt-get autoremove -y && rm -rf /var/lib/apt/lists/* \
    && python -m orchestration.models.runner

COPY docker/dagster.yaml docker/workspace.yaml /opt/dagster/home/

EXPOSE 4000 3000
CMD ["dagster", "api", "grpc", "-m", "orchestration.definitions", "-h", "0.0.0.0", "-p", "4000"]

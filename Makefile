# paperhouse: `make run` and `make test` are all a fresh machine needs (Python 3.11+ and make).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
# Rebuilt whenever pyproject.toml changes.
STAMP  := $(VENV)/.installed-stamp
# Apache Superset outside paperhouse's dependencies, in its own venv (orchestration/bi/superset.py).
BI_VENV := .venv-bi
BI_STAMP := $(BI_VENV)/.installed-stamp
# Debian's Chromium and its driver, for the dashboard's browser test (tests/test_bi.py).
CHROMEDRIVER := /usr/bin/chromedriver
# dagster-dbt reads dbt's manifest when the Dagster definitions load.
MANIFEST := dbt/target/manifest.json
# The compiled modules (orchestration/compiled.py), each beside its .pyx source; a module's
# file name carries the interpreter's ABI tag.
EXT_SUFFIX := $(shell $(PYTHON) -c 'import sysconfig; print(sysconfig.get_config_var("EXT_SUFFIX"))')
COMPILED_SOURCES := orchestration/keywords/_phrases.pyx orchestration/ingest/_listings.pyx \
	orchestration/_search_documents.pyx
COMPILED := $(COMPILED_SOURCES:.pyx=$(EXT_SUFFIX))
DBT_SOURCES := $(shell find dbt/models dbt/macros dbt/tests -type f) dbt/dbt_project.yml dbt/profiles.yml
# The project's own modules as bytecode, written ahead: pip compiles the packages it installs but
# not an editable install's sources, and where PYTHONDONTWRITEBYTECODE is set (these machines,
# the Dockerfile) every process paperhouse starts, the CLI and each worker, would compile them
# again before its first step.
PY_SOURCES := $(shell find orchestration -name '*.py')
BYTECODE := $(VENV)/.bytecode-stamp

# PostgreSQL 15 on this machine's loopback, for `make test-external`.
EXTERNAL_TEST_DATABASE_URL ?= postgresql://postgres@127.0.0.1:5432/postgres

export DBT_SEND_ANONYMOUS_USAGE_STATS := false

.PHONY: run test test-external lint bootstrap clean help bench-peers bench-growth bi

help:
	@echo "make run            start the embedded warehouse, ingest data/inbox, build, summarize"
	@echo "make test           lint, then the test suite against an embedded PostgreSQL server"
	@echo "make test-external  the same suite against \$$EXTERNAL_TEST_DATABASE_URL"
	@echo "make bi             Apache Superset on the marts, opening on paperhouse's dashboard"
	@echo "make lint           ruff and sqlfluff"
	@echo "make bench-peers    paperhouse ingest beside dlt, pandas and a bare COPY (docs/benchmarks.md)"
	@echo "make bench-growth   the benchmark at 100k, 300k and 1M listings, with a log-log plot"

run: $(STAMP) $(COMPILED) $(BYTECODE) $(MANIFEST)
	$(BIN)/paperhouse run

# the browser test of the dashboard needs Superset (.venv-bi) and Chromium
test: lint $(COMPILED) $(BYTECODE) $(MANIFEST) $(BI_STAMP) $(CHROMEDRIVER)
	$(BIN)/pytest -n auto --durations=15

# ruff for Python (lint and format), sqlfluff for the SQL (settings in pyproject.toml)
lint: $(STAMP)
	$(BIN)/ruff check orchestration tests
	$(BIN)/ruff format --check orchestration tests
	$(BIN)/sqlfluff lint --disable-progress-bar dbt/models dbt/tests sql

test-external: $(STAMP) $(COMPILED) $(BYTECODE) $(MANIFEST) $(BI_STAMP) $(CHROMEDRIVER)
	PAPERHOUSE_TEST_DATABASE_URL=$(EXTERNAL_TEST_DATABASE_URL) $(BIN)/pytest -n auto --durations=15

bootstrap: $(STAMP) $(COMPILED) $(BYTECODE) $(MANIFEST)

bi: $(STAMP) $(COMPILED) $(BYTECODE) $(MANIFEST) $(BI_STAMP)
	$(BIN)/paperhouse bi

$(BI_STAMP): orchestration/bi/requirements.txt
	@test -x $(BI_VENV)/bin/python || $(PYTHON) -m venv $(BI_VENV)
	$(BI_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(BI_VENV)/bin/python -m pip install --quiet -r orchestration/bi/requirements.txt
	@touch $(BI_STAMP)

# The benchmark's tools outside paperhouse's dependencies (peer loaders, plots), in their own venv.
BENCH_VENV := .venv-bench
BENCH_STAMP := $(BENCH_VENV)/.installed-stamp
BENCH_SIZES := 100000 300000 1000000

bench-peers: $(STAMP) $(COMPILED) $(BYTECODE) $(BENCH_STAMP)
	$(BIN)/python -m orchestration.bench.peers.compare --peers-python $(BENCH_VENV)/bin/python --out docs/bench-peers.json

bench-growth: $(STAMP) $(COMPILED) $(BYTECODE) $(MANIFEST) $(BENCH_STAMP)
	for n in $(BENCH_SIZES); do \
		$(BIN)/paperhouse bench --listings $$n --format json --out docs/bench-$$n.json >/dev/null || exit 1; \
	done
	PYTHONPATH=. $(BENCH_VENV)/bin/python -m orchestration.bench.growth \
		$(foreach n,$(BENCH_SIZES),docs/bench-$(n).json) --plot docs/bench-growth.png

$(BENCH_STAMP): orchestration/bench/peers/requirements.txt
	@test -x $(BENCH_VENV)/bin/python || $(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip install --quiet -r orchestration/bench/peers/requirements.txt
	@touch $(BENCH_STAMP)

$(CHROMEDRIVER):
	@echo "installing Debian's chromium and chromium-driver for the browser test (needs root)"
	apt-get install -y -q chromium chromium-driver >/dev/null || \
		(apt-get update -q >/dev/null && apt-get install -y -q chromium chromium-driver >/dev/null)

%$(EXT_SUFFIX): %.pyx $(STAMP)
	$(BIN)/python -m orchestration.compiled $<

$(BYTECODE): $(STAMP) $(PY_SOURCES)
	$(BIN)/python -m compileall -q orchestration
	@touch $(BYTECODE)

$(MANIFEST): $(STAMP) $(DBT_SOURCES)
	$(BIN)/python -m orchestration.models.runner

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "paperhouse needs Python 3.11 or newer: run make PYTHON=python3.11 ...")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

clean:
	-$(BIN)/paperhouse db stop 2>/dev/null
	rm -rf $(VENV) $(BI_VENV) .pytest_cache .hypothesis dbt/target dbt/logs $(COMPILED)
	find orchestration tests -name __pycache__ -type d -prune -exec rm -rf {} +

# The documented commands. `make run` and `make test` work on a fresh clone with no settings.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
export DBT_SEND_ANONYMOUS_USAGE_STATS := false
export MLFLOW_DISABLE_TELEMETRY := true

.PHONY: setup run test ui app lint docs bench system-test-deps clean

# --compile-bytecode: machines that set PYTHONDONTWRITEBYTECODE (these do) never cache bytecode, so
# every process (each dbt call, each test subprocess) compiled great-expectations, dagster and mlflow
# from source again: 17 s of CPU to import them, 6 s with the bytecode written once at install.
$(STAMP): pyproject.toml
	@test -x $(PY) || python3 -m venv $(VENV)
	@$(PY) -m pip install -q --disable-pip-version-check uv
	$(BIN)/uv pip install --python $(PY) -q --compile-bytecode -e '.[dev]'
	@touch $(STAMP)

setup: $(STAMP)  ## create .venv and install openar with its pinned dependencies
	@$(PY) -m compileall -q -j 0 orchestration assets ml ingestion simulator dashboards >/dev/null
	@$(BIN)/openar prepare

run: setup  ## simulate the default world, materialize every asset, print a summary
	$(BIN)/openar simulate
	$(BIN)/openar run

# Debian packages the tests drive for real: chromium (headless browser tests) and PostgreSQL 15
# (the dbt project is built on it too). Installed only when missing.
system-test-deps:
	@need=""; command -v chromium >/dev/null || need="$$need chromium"; \
	test -x /usr/lib/postgresql/15/bin/initdb || need="$$need postgresql"; \
	command -v java >/dev/null || need="$$need openjdk-17-jre-headless"; \
	if [ -n "$$need" ]; then \
	  if [ "$$(id -u)" = 0 ]; then echo "installing:$$need"; apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$need >/dev/null; \
	  else echo "missing system packages:$$need (browser/PostgreSQL tests will skip)"; fi; fi

test: setup system-test-deps  ## set up and run the whole test suite
	@$(BIN)/pytest; rc=$$?; if [ $$rc -eq 5 ]; then echo "no tests collected"; exit 0; fi; exit $$rc

ui: setup  ## Dagster UI on http://127.0.0.1:3000
	DAGSTER_HOME=$${DAGSTER_HOME:-$$PWD/data/dagster_home} $(BIN)/dagster dev -w workspace.yaml -h 127.0.0.1 -p 3000

app: setup  ## Streamlit app on http://127.0.0.1:8501
	$(BIN)/streamlit run dashboards/app.py --server.headless true --browser.gatherUsageStats false --client.toolbarMode viewer

lint: setup  ## ruff + sqlfluff
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	mkdir -p data/lint && OPENAR_DUCKDB_PATH=$$PWD/data/lint/lint.duckdb $(BIN)/sqlfluff lint dbt_project/models

docs: setup  ## dbt docs (static site under dbt_project/target)
	$(BIN)/openar dbt docs generate

bench: setup  ## benchmarks that print their figures (and write JSON under data/bench)
	$(BIN)/openar bench pipeline
	$(BIN)/openar bench ingest
	$(BIN)/openar bench cashapp

clean:
	rm -rf data dbt_project/target dbt_project/logs

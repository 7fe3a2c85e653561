# Two commands do everything on a fresh machine: `make run` and `make test`.
# Both create .venv (pinned by requirements.lock) when it is missing or stale.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
# Kedro telemetry stays off; the committed .telemetry file does the same for
# plain `kedro` commands.
export KEDRO_DISABLE_TELEMETRY := 1

.PHONY: run test lint viz prune airflow-dags lock clean-venv

$(INSTALLED): pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	# uv installs the pinned packages in parallel: a fresh .venv in about 30 s,
	# against 55 s with pip. --system-certs: the platform's certificate store,
	# as pip uses, so a TLS-inspecting proxy's CA is trusted too.
	# --compile-bytecode: as pip does; where PYTHONDONTWRITEBYTECODE is set,
	# every `kedro` command would otherwise compile its imports again (+3 s).
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c requirements.lock uv
	# PySpark ships only as a 456 MB source package of jars: built into a wheel
	# stored without compression it installs in half the time.
	$(BIN)/uv pip install --quiet --system-certs --compile-bytecode --python $(BIN)/python \
		-c requirements.lock -e ".[dev]" \
		--config-settings-package "pyspark:--build-option=--compression=stored"
	touch $(INSTALLED)

run: $(INSTALLED)
	$(BIN)/kedro run

test: $(INSTALLED)
	$(BIN)/python -m pytest

lint: $(INSTALLED)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

viz: $(INSTALLED)
	$(BIN)/kedro viz run

# Deletes all but the newest KEEP versions of every dataset (DRY_RUN=1 lists them).
KEEP ?= 10
prune: $(INSTALLED)
	$(BIN)/customer-segmentation-prune --keep $(KEEP) $(if $(DRY_RUN),--dry-run)

# Writes the Airflow DAGs of the training and scoring pipelines into DAGS_DIR,
# one task per pipeline, with the settings of conf/base/airflow.yml.
# PROJECT_PATH is where the Airflow workers find this project's conf/ and data/.
ENV ?= local
DAG_PIPELINES ?= __default__,scoring
DAGS_DIR ?= airflow_dags
PROJECT_PATH ?= $(CURDIR)
airflow-dags: $(INSTALLED)
	$(BIN)/kedro airflow create --env $(ENV) --pipelines $(DAG_PIPELINES) \
		--group-by namespace --jinja-file deployment/airflow_dag.j2 \
		--target-dir $(DAGS_DIR) --params project_path=$(PROJECT_PATH)

# Re-pins every dependency to the newest versions pyproject.toml allows.
lock:
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/python -m pip install --quiet --upgrade "pip>=24"
	.lock-venv/bin/python -m pip install --quiet -e ".[dev,notebook]"
	.lock-venv/bin/python -m pip freeze --exclude-editable > requirements.lock
	rm -rf .lock-venv

clean-venv:
	rm -rf $(VENV)

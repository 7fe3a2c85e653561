# Two commands do everything on a fresh machine: `make run` and `make test`.
# Both create .venv (pinned by requirements.lock) when it is missing or stale.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Two sets of packages: `make run` installs what running the project needs
# (the pipelines, Kedro-Viz, Airflow DAGs, PostgreSQL); `make test` adds the
# development tools and the optional extras the tests cover (Spark, MLflow
# tracking). Each is installed when missing or stale.
RUN_EXTRAS := viz,airflow,postgres
RUNTIME := $(VENV)/.installed-run
INSTALLED := $(VENV)/.installed-dev
# Kedro telemetry stays off; the committed .telemetry file does the same for
# plain `kedro` commands. MLflow sends no usage data either (tracked runs and
# `make mlflow-ui`; customer_segmentation.tracking sets the same for `kedro`).
export KEDRO_DISABLE_TELEMETRY := 1
export MLFLOW_DISABLE_TELEMETRY := true

# $(call install,EXTRAS): the project with EXTRAS, every package pinned by
# requirements.lock. uv installs the pinned packages in parallel, much faster
# than pip (benchmarks/RESULTS.md). --system-certs: the platform's certificate
# store, as pip uses, so a TLS-inspecting proxy's CA is trusted too.
# --compile-bytecode: as pip does; where PYTHONDONTWRITEBYTECODE is set, every
# `kedro` command would otherwise compile its imports again. PySpark ships only
# as a large source package of jars: built into a wheel stored without
# compression it installs much faster.
define install
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -c requirements.lock uv
	$(BIN)/uv pip install --quiet --system-certs --compile-bytecode --python $(BIN)/python \
		-c requirements.lock -e ".[$(1)]" \
		--config-settings-package "pyspark:--build-option=--compression=stored"
endef

$(RUNTIME): pyproject.toml requirements.lock
	$(call install,$(RUN_EXTRAS))
	touch $@

$(INSTALLED): pyproject.toml requirements.lock
	$(call install,dev)
	touch $(RUNTIME) $@

# The environment alone, to work with your own data.
install: $(RUNTIME)

run: $(RUNTIME)
	$(BIN)/kedro run

# Experiment tracking (docs/tracking.md): `make tracking` adds kedro-mlflow and
# MLflow to .venv; `kedro run --env tracking` records a run in the project's
# store, mlruns/; `make mlflow-ui` shows the runs at http://127.0.0.1:5000
# (MLFLOW_PORT=5050 for another port).
TRACKED := $(VENV)/.installed-tracking
TRACKED_EXTRAS := $(RUN_EXTRAS),tracking
$(TRACKED): pyproject.toml requirements.lock
	$(call install,$(TRACKED_EXTRAS))
	touch $@

tracking: $(TRACKED)

MLFLOW_PORT ?= 5000
mlflow-ui: $(TRACKED)
	$(BIN)/mlflow ui --backend-store-uri sqlite:///mlruns/mlflow.db --host 127.0.0.1 --port $(MLFLOW_PORT)

# Lint first: a formatting slip fails fast, before the slow tests run.
# Two workers (pytest-xdist), one test file each at a time, so that a file's
# shared fixtures (a trained project, a Spark session) are built once.
test: lint
	$(BIN)/python -m pytest -n 2 --dist loadfile

LINTED := src tests benchmarks docs/hooks
lint: $(INSTALLED)
	$(BIN)/ruff check $(LINTED)
	$(BIN)/ruff format --check $(LINTED)

# The manual (mkdocs.yml, docs/) as a website in site/; docs-serve rebuilds it
# on every edit at http://127.0.0.1:8000. tests/test_docs.py builds it too.
docs: $(INSTALLED)
	$(BIN)/mkdocs build --strict --site-dir site

docs-serve: $(INSTALLED)
	$(BIN)/mkdocs serve

# ENV=NAME: the pipelines and previews of conf/NAME (default local, as below).
viz: $(RUNTIME)
	$(BIN)/kedro viz run --env $(ENV)

# Deletes all but the newest KEEP versions of every dataset (DRY_RUN=1 lists them).
KEEP ?= 10
prune: $(RUNTIME)
	$(BIN)/customer-segmentation-prune --keep $(KEEP) $(if $(DRY_RUN),--dry-run)

# Writes the Airflow DAGs of the training and scoring pipelines into DAGS_DIR,
# one task per pipeline, with the settings of conf/base/airflow.yml.
# PROJECT_PATH is where the Airflow workers find this project's conf/ and data/.
ENV ?= local
DAG_PIPELINES ?= __default__,scoring
DAGS_DIR ?= airflow_dags
PROJECT_PATH ?= $(CURDIR)
airflow-dags: $(RUNTIME)
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

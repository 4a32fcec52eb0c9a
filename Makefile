# The expected commands. `make demo` runs the pipeline, `make test` runs the whole test suite.
# Both create .venv from requirements.lock (exact versions, hash-checked) on first use and whenever the lock changes.

PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
TAXI_HOME ?= $(CURDIR)/.taxi
TAXI_TRIPS_DIR ?=

# The Dagster instance lives in the data home unless DAGSTER_HOME says otherwise (dagster.yaml is its template).
DAGSTER_HOME ?= $(TAXI_HOME)/dagster

export TAXI_HOME
export TAXI_TRIPS_DIR
export DAGSTER_HOME
export SPARK_LOCAL_IP ?= 127.0.0.1
export PYSPARK_PYTHON := $(CURDIR)/$(BIN)/python
export PYTHONHASHSEED := 0
export MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR := false

.PHONY: instance calibrate migrate help demo dashboard bench-dashboard simulate-rollout simulate-segment-gate train retrain seed-traffic monitor bench-drift bench-check up images down rollback serve bench-serve bench-serve-pair test test-fast lint docs typecheck dev bench-features bench-model lock check-java clean

help:
	@echo "make demo            the whole loop under the Dagster daemon: train on 2022, serve, replay 2022-03 (calm)"
	@echo "                     and 2023-01 (fare increase) with delayed fares; the daemon judges the windows, the"
	@echo "                     sensor retrains, the challenger is promoted, the API swaps; prints the timeline"
	@echo "                     offline: make demo TAXI_TRIPS_DIR=../shared/data/tlc  (SERVE=sample: exit at the end)"
	@echo "make test            lint, import contracts, docs, typecheck, the fast tier, then the slow tier; line coverage (floor 85 %)"
	@echo "make test-fast       the fast tier: pure code, the API through its test client, the definitions (under a minute)"
	@echo "make docs            the manual (docs/) as a site in .site/ (mkdocs build --strict)"
	@echo "make train           train a challenger and decide on promotion (MONTHS=2023-01 HOLDOUT_MONTHS=...)"
	@echo "make retrain         what the sensor launches on a failed check: the newest TAXI_RETRAIN_MONTHS (2) complete"
	@echo "                     months + labelled traffic, and decide (MONTHS=2023-01,2023-02 to choose them)"
	@echo "make seed-traffic    replay a TLC month through the running API (MONTH, ROWS, RATE, SCENARIO, SEED, ...)"
	@echo "make monitor         the current monitoring window's drift report so far, and its checks"
	@echo "make rollback        move the champion back to the previous champion"
	@echo "make serve           the prediction API on the champion (TAXI_API_PORT, TAXI_API_KEYS, TAXI_API_WORKERS)"
	@echo "make dev             the Dagster UI and daemon (dagster dev) on http://127.0.0.1:3000 (DAGSTER_PORT)"
	@echo "make dashboard       the monitoring dashboard on http://127.0.0.1:8501 (TAXI_DASHBOARD_PORT, TAXI_DASHBOARD_KEYS)"
	@echo "make bench-features  raw -> features throughput on the local green months"
	@echo "make bench-model     training time and memory, scoring latency ONNX vs Spark"
	@echo "make bench-drift     drift report at 10k/100k/1M rows beside Evidently 0.7 on the same frames"
	@echo "make bench-serve     API load benchmark under wrk (after make demo)"
	@echo "make bench-serve-pair /predict beside another release's checkout (AGAINST=../previous), alternating"
	@echo "make bench-dashboard the overview's first meaningful paint in chromium: 30 days of hourly reports, 1M predictions"
	@echo "make bench-check     rerun the benchmarks; fail on a figure >20% worse than the last run on this machine kind"
	@echo "make simulate-rollout false promotions, power and labels to decision of the live test (1,000 seeded runs)"
	@echo "make simulate-segment-gate false blocks and power of the promotion's segment gate (2,000 runs on real trips)"
	@echo "make calibrate       false-alarm and detection rates of every check on real months (WINDOWS=200, SEED)"
	@echo "make up              the compose deployment from nothing: engine, secrets, images, every service healthy"
	@echo "                     behind one TLS proxy on https://127.0.0.1:8443 (make down stops it, data kept)"
	@echo "make images          only build the deployment's images (Debian base, wheelhouse, five images)"
	@echo "make migrate         bring the platform database (TAXI_DATABASE_URL) to the newest schema revision"
	@echo "make lock            re-resolve pyproject.toml into the hashed locks (the venv's and each image's)"

check-java:
	@command -v java >/dev/null 2>&1 || { \
	  echo "error: Java is not installed; PySpark needs Java 17."; \
	  echo "       Debian/Ubuntu: sudo apt-get install -y openjdk-17-jre-headless"; \
	  echo "       macOS: brew install openjdk@17   (then put its bin/ on PATH or set JAVA_HOME)"; \
	  exit 1; }

$(BIN)/.installed: requirements.lock pyproject.toml | check-java
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade "pip>=24"
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	@touch $@

instance:
	@mkdir -p "$(DAGSTER_HOME)"
	@test -f "$(DAGSTER_HOME)/dagster.yaml" || cp dagster.yaml "$(DAGSTER_HOME)/dagster.yaml"

# Optional: SERVICE=green|yellow, MONTHS=2022-01,2022-02 (training window), HOLDOUT_MONTHS=2023-01, REFRESH=1.
# SERVE=sample ends the demo after the sample request instead of keeping the API up; SERVE=no skips the API.
CLI_ARGS = $(if $(SERVICE),--service $(SERVICE)) $(if $(MONTHS),--months $(MONTHS)) \
	$(if $(HOLDOUT_MONTHS),--holdout-months $(HOLDOUT_MONTHS)) $(if $(REFRESH),--refresh)

demo: check-java $(BIN)/.installed instance
	$(BIN)/python -m taxi_tools.cli demo $(CLI_ARGS) $(if $(SERVE),--serve $(SERVE))

train: check-java $(BIN)/.installed instance
	$(BIN)/python -m taxi_tools.cli train $(CLI_ARGS)

retrain: check-java $(BIN)/.installed instance
	$(BIN)/python -m taxi_tools.cli retrain $(CLI_ARGS)

# Replay a month through the running API (make serve in another terminal): MONTH=2023-01 ROWS=5000 RATE=1000
# COMPRESSION=600 SCENARIO=none|gradual|sudden|concept|seasonal|new_categories|bad_requests STRENGTH=... SEED=0
# (the seed draws the sample of trips and the scenario's randomness: another seed, another sample)
seed-traffic: check-java $(BIN)/.installed
	$(BIN)/python -m taxi_tools.cli seed-traffic $(if $(SERVICE),--service $(SERVICE)) $(if $(MONTH),--month $(MONTH)) \
	  $(if $(ROWS),--rows $(ROWS)) $(if $(RATE),--rate $(RATE)) $(if $(COMPRESSION),--compression $(COMPRESSION)) \
	  $(if $(SCENARIO),--scenario $(SCENARIO)) $(if $(STRENGTH),--strength $(STRENGTH)) \
	  $(if $(FEEDBACK_DELAY),--feedback-delay $(FEEDBACK_DELAY)) $(if $(SEED),--seed $(SEED))

monitor: check-java $(BIN)/.installed instance
	$(BIN)/python -m taxi_tools.cli monitor $(if $(SERVICE),--service $(SERVICE))

rollback: check-java $(BIN)/.installed instance
	$(BIN)/python -m taxi_tools.cli rollback $(if $(SERVICE),--service $(SERVICE))

migrate: $(BIN)/.installed
	$(BIN)/python -m taxi_tools.cli migrate

# The whole suite, cheapest first so a broken build fails within minutes: lint, the import contracts and the docs
# (lint), types, the fast tier on two workers, then the slow tier in one process. Line coverage of the four
# packages (code run in the tests' own processes; the daemon's run processes and the API servers the tests start
# are not counted) is gathered over both tiers, printed with the lines no test runs, and fails below the floor.
COVERAGE_FLOOR ?= 85
test: check-java $(BIN)/.installed lint typecheck
	$(BIN)/python -m pytest -m "not slow" -q -n 2 --cov --cov-report=
	$(BIN)/python -m pytest -m slow --cov --cov-append --cov-report=term-missing:skip-covered \
	  --cov-fail-under=$(COVERAGE_FLOOR) --durations=25

# Tests marked `slow` need Spark, Dagster runs, a daemon, real servers or whole months; the rest is the fast tier,
# on two pytest-xdist workers (its tests share nothing: each has its own temporary home and PostgreSQL database).
# The whole slow tier stays in one process: run in two it took as long, its daemon and Spark tests sharing two
# cores, and the compose deployment's test run beside the rest starved its own replay (12 requests/s through the
# proxy, too few labels for the accuracy check to judge).
test-fast: $(BIN)/.installed
	$(BIN)/python -m pytest -m "not slow" -q -n 2

lint: $(BIN)/.installed docs
	$(BIN)/ruff check taxi_assets taxi_serving taxi_tools taxi_dashboard taxi_assets_tests scripts
	$(BIN)/ruff format --check taxi_assets taxi_serving taxi_tools taxi_dashboard taxi_assets_tests scripts
	$(BIN)/lint-imports

docs: $(BIN)/.installed
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet

typecheck: $(BIN)/.installed
	$(BIN)/mypy taxi_assets taxi_serving taxi_tools taxi_dashboard

# The Dagster UI and daemon on DAGSTER_PORT (3000): schedules, sensors and the run queue run while it is up.
# The monitoring windows come from TAXI_MONITOR_WINDOW_MINUTES (60); the demo prints the value it used.
# `dagster dev` warns that the `dg` CLI supersedes it; that CLI needs a dg project layout this repo does not use.
DAGSTER_PORT ?= 3000
dev: check-java $(BIN)/.installed instance
	PYTHONWARNINGS='ignore:Function `dev_command` is superseded' $(BIN)/dagster dev -w workspace.yaml -h 127.0.0.1 \
	  -p $(DAGSTER_PORT)

# The API on the champion: TAXI_API_PORT (8000), TAXI_API_KEYS (comma-separated), TAXI_API_WORKERS (1).
TAXI_API_PORT ?= 8000
TAXI_API_WORKERS ?= 1
TAXI_API_KEYS ?= local-dev-key
export TAXI_API_KEYS

serve: check-java $(BIN)/.installed
	@echo "API on http://127.0.0.1:$(TAXI_API_PORT) (docs: /schema); API keys from TAXI_API_KEYS"
	$(BIN)/python -m taxi_serving --host 127.0.0.1 --port $(TAXI_API_PORT) --workers $(TAXI_API_WORKERS)

# The monitoring dashboard on TAXI_DASHBOARD_PORT (8501): it reads the data home (TAXI_HOME), links runs to the
# Dagster UI at TAXI_DAGSTER_URL (http://127.0.0.1:3000) and, signed in with a key of TAXI_DASHBOARD_KEYS, asks it
# for a retraining.
TAXI_DASHBOARD_PORT ?= 8501
dashboard: $(BIN)/.installed
	@echo "dashboard on http://127.0.0.1:$(TAXI_DASHBOARD_PORT)"
	TAXI_DASHBOARD_PORT=$(TAXI_DASHBOARD_PORT) $(BIN)/python -m taxi_dashboard

# How often each check fails on calm and changed real months: WINDOWS per scenario and size, SIZES, SEED.
calibrate: check-java $(BIN)/.installed
	$(BIN)/python scripts/calibrate.py $(if $(TAXI_TRIPS_DIR),$(TAXI_TRIPS_DIR),../shared/data/tlc) \
	  $(if $(WINDOWS),--windows $(WINDOWS)) $(if $(SIZES),--sizes $(SIZES)) $(if $(SEED),--seed $(SEED)) \
	  --work $(TAXI_HOME)/calibration

bench-features: check-java $(BIN)/.installed
	$(BIN)/python scripts/bench_features.py $(if $(TAXI_TRIPS_DIR),$(TAXI_TRIPS_DIR),../shared/data/tlc)

bench-model: check-java $(BIN)/.installed
	$(BIN)/python scripts/bench_model.py $(if $(TAXI_TRIPS_DIR),$(TAXI_TRIPS_DIR),../shared/data/tlc)

# Evidently 0.7 needs pandas < 2.3: it gets its own environment, pinned in scripts/bench-evidently.lock.
BENCH_VENV ?= .venv-bench
$(BENCH_VENV)/.installed: scripts/bench-evidently.lock
	@test -x $(BENCH_VENV)/bin/python || $(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r scripts/bench-evidently.lock
	@touch $@

bench-drift: check-java $(BIN)/.installed $(BENCH_VENV)/.installed
	$(BIN)/python scripts/bench_drift.py $(if $(TAXI_TRIPS_DIR),$(TAXI_TRIPS_DIR),../shared/data/tlc) \
	  --evidently-python $(BENCH_VENV)/bin/python

# The live promotion test by seeded simulation: false promotions at each alpha, power, labels to a decision.
simulate-rollout: $(BIN)/.installed
	$(BIN)/python scripts/simulate_rollout.py

simulate-segment-gate: $(BIN)/.installed
	$(BIN)/python scripts/simulate_segment_gate.py $(if $(TAXI_TRIPS_DIR),--trips-dir $(TAXI_TRIPS_DIR))

# The dashboard's overview in a real browser (Debian's chromium): time to its headline, cold, warm and empty.
bench-dashboard: $(BIN)/.installed
	@test -x /usr/bin/chromium || { echo "error: chromium is needed: sudo apt-get install -y chromium"; exit 1; }
	$(BIN)/python scripts/bench_dashboard.py

bench-serve: check-java $(BIN)/.installed
	@command -v wrk >/dev/null 2>&1 || { echo "error: wrk is needed: sudo apt-get install -y wrk"; exit 1; }
	$(BIN)/python scripts/bench_serve.py

# /predict of this checkout beside another release's (git worktree add ../previous <tag>), alternating rounds
AGAINST ?=
OTHER_HOME ?=
bench-serve-pair: check-java $(BIN)/.installed
	@test -n "$(AGAINST)" || { echo "error: say which checkout: make bench-serve-pair AGAINST=../previous"; exit 1; }
	@command -v wrk >/dev/null 2>&1 || { echo "error: wrk is needed: sudo apt-get install -y wrk"; exit 1; }
	$(BIN)/python scripts/bench_serve_pair.py $(AGAINST) $(if $(OTHER_HOME),--other-home $(OTHER_HOME))

# Before every release, on a quiet machine: each benchmark appends its figures to docs/benchmarks/<bench>.jsonl;
# this reruns them (BENCHES="drift serve" for some) and fails on a figure more than 20 % worse than the last run
# recorded on the same machine kind. Commit the new records with the release.
BENCHES ?=
bench-check: $(BIN)/.installed
	$(BIN)/python scripts/bench_check.py $(BENCHES)

# Four hashed locks, one resolution: pip resolves the whole project on this Python, keeping every pin of the
# current lock that pyproject.toml still allows (a new dependency adds pins, it does not move the others), then
# uv writes the pins with every file's sha256 for the venv (requirements.lock) and for each image
# (requirements-<extra>.lock), so pip installs them in hash-checking mode. uv is a tool of this target only.
LOCK_COMPILE = .lockenv/bin/uv pip compile pyproject.toml --generate-hashes --no-strip-extras --no-header --no-annotate \
	--python-version 3.11 -c .lockenv/pins.txt
lock:
	rm -rf .lockenv && $(PYTHON) -m venv .lockenv
	.lockenv/bin/python -m pip install --quiet --upgrade "pip>=24" uv
	.lockenv/bin/python -m pip install --quiet -r requirements.lock
	.lockenv/bin/python -m pip install --quiet ".[api,platform,dashboard,dev]"
	.lockenv/bin/python -m pip freeze --exclude taxi-fare-platform --exclude uv > .lockenv/pins.txt
	{ echo "# Every distribution of the venv (make .venv) with its hashes, resolved from pyproject.toml by 'make lock'."; \
	  $(LOCK_COMPILE) --extra api --extra platform --extra dashboard --extra dev; } > requirements.lock
	{ echo "# The API image's distributions (the api extra) with their hashes, from the same resolution ('make lock')."; \
	  $(LOCK_COMPILE) --extra api; } > requirements-api.lock
	{ echo "# The platform image's distributions (the platform extra) with their hashes, from the same resolution."; \
	  $(LOCK_COMPILE) --extra platform; } > requirements-platform.lock
	{ echo "# The dashboard image's distributions (the dashboard extra) with their hashes, from the same resolution."; \
	  $(LOCK_COMPILE) --extra dashboard; } > requirements-dashboard.lock
	rm -rf .lockenv

# The compose deployment (docker/up.sh): the engine and compose installed and started when absent, docker/.env with
# strong secrets when there is none, the images built from Debian's packages and a host-built wheelhouse, then
# every service up and healthy behind one TLS proxy. `make images` builds only; `make down` stops (volumes kept).
COMPOSE := $(shell docker compose version >/dev/null 2>&1 && echo "docker compose" || echo docker-compose)
up:
	PYTHON=$(PYTHON) docker/up.sh up

images:
	PYTHON=$(PYTHON) docker/up.sh images

down:
	$(COMPOSE) -p taxi-fare-platform --profile spark --env-file docker/.env -f docker/compose.yaml down

clean:
	rm -rf $(TAXI_HOME) .tmp_dagster_home_*

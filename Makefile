# Caravan: `make run` and `make test` work on a fresh machine; each installs what is missing.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
WEB_STAMP := web/node_modules/.installed

.PHONY: help install run test test-py test-web lint format bench bench-peer gate chromium web-install clean site

help:
	@echo "make run    - short local training run (W&B offline), records under runs/"
	@echo "make test   - every test (Python, web components, browser end-to-end)"
	@echo "make lint   - ruff"
	@echo "make bench  - fresh throughput report under artifacts/throughput/"
	@echo "make gate   - profiler with --enforce-target at the calibrated floors"
	@echo "make site   - build and serve the website and the analytics service, ports and origins matched"
	@echo "              (SITE_PORT=3000 API_PORT=8000 SITE_HOST=127.0.0.1 RUNS_DIR=runs)"
	@echo "make bench-peer - ppo's window vs a textbook PPO loop (benchmarks/peer.py), alternated"

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

# A short run: 1,024 envs (the default) and 4.2 M env steps; the learning-target config is
# `python -m ppo.train --num-envs 8192` (docs/TRAINING.md).
run: $(STAMP)
	$(PY) -m ppo.train --total-steps 4194304 --wandb offline

lint: $(STAMP)
	$(PY) -m ruff check --no-cache .
	$(PY) -m ruff format --no-cache --check .

format: $(STAMP)
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

# Debian's Chromium for the browser tests (no browser downloads: only package registries are reachable).
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing Debian chromium"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

# npm ci refuses a lock without other platforms' optional binaries (a registry mirror may not
# carry them); npm install then installs the same locked versions.
$(WEB_STAMP): web/package.json web/package-lock.json
	cd web && { npm ci --no-audit --no-fund 2>/dev/null || { echo 'npm ci refused the lock; npm install'; npm install --no-audit --no-fund; }; }
	@touch $(WEB_STAMP)

web-install: $(WEB_STAMP)

test-py: $(STAMP) $(if $(wildcard web/package.json),$(WEB_STAMP))
	$(PY) -m pytest -q

test-web: $(STAMP) $(WEB_STAMP) chromium
	cd web && npm run test:unit
	cd web && PYTHON=$(abspath $(PY)) npm run test:e2e

# Every stage runs even when one fails, so a CI log shows all failures at once. The web tests
# run first: the deployment smoke test in test-py reuses their production build of the site.
test: $(STAMP)
	@status=0; \
	$(MAKE) --no-print-directory lint || status=1; \
	if [ -f web/package.json ]; then $(MAKE) --no-print-directory test-web || status=1; fi; \
	$(MAKE) --no-print-directory test-py || status=1; \
	exit $$status

# Throughput (docs/THROUGHPUT.md). Shared machines are noisy: check `uptime` first.
bench: $(STAMP)
	$(PY) -m profiler --mode all --repeats 3 --out artifacts/throughput/current.json

# ppo's compiled window against the textbook peer loop, alternated in one process (issue 10).
bench-peer: $(STAMP)
	$(PY) -m profiler --mode trainer --vs-peer --repeats 3 --ceiling quick \
	  --out artifacts/throughput/vs-peer.json

gate: $(STAMP)
	$(PY) -m profiler --mode all --repeats 3 --enforce-target \
	  --gate-file artifacts/throughput/gates.json --out artifacts/tmp/gate.json

clean:
	rm -rf $(VENV) web/node_modules web/.next .pytest_cache .ruff_cache

# The website and the service together. The site's backend address is baked into the bundle at
# build time, and the service must allow the site's origin (CORS), so both come from the same
# two ports here; Ctrl-C stops both.
SITE_HOST ?= 127.0.0.1
SITE_PORT ?= 3000
API_PORT ?= 8000
RUNS_DIR ?= runs
site: $(STAMP) $(WEB_STAMP)
	cd web && NEXT_TELEMETRY_DISABLED=1 NEXT_PUBLIC_BACKEND_HTTP_BASE=http://$(SITE_HOST):$(API_PORT) npx next build
	@echo "site http://$(SITE_HOST):$(SITE_PORT) -> service http://$(SITE_HOST):$(API_PORT) (runs: $(RUNS_DIR))"
	@trap 'kill 0' INT TERM EXIT; \
	  ALLOWED_ORIGINS=http://$(SITE_HOST):$(SITE_PORT),http://localhost:$(SITE_PORT),http://127.0.0.1:$(SITE_PORT) \
	    $(PY) -m analytics_service --host $(SITE_HOST) --port $(API_PORT) --runs-dir $(RUNS_DIR) & \
	  (cd web && NEXT_TELEMETRY_DISABLED=1 npx next start -H $(SITE_HOST) -p $(SITE_PORT)) & \
	  wait -n

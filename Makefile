# Two commands matter: `make run` and `make test`. Each sets everything up first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PORT ?= 8000
# Test processes (pytest-xdist): one per core by default, each with its own test database.
TEST_WORKERS ?= auto

.PHONY: install run test bench lint format migrate clean helm-check

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: install
	$(PY) manage.py run --port $(PORT)

test: install
	$(PY) -m pytest -q -n $(TEST_WORKERS)

bench: install
	$(PY) -m bench

# The type checker's Django plugin imports the settings; the database is never reached.
lint: install
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	BRAGABOT_ENV=development DATABASE_URL=postgresql://type-check.invalid/unused $(PY) -m mypy
	$(VENV)/bin/hadolint --failure-threshold warning Dockerfile

format: install
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

# A development convenience like `make run`: production runs `manage.py setup` with its keys.
migrate: install
	BRAGABOT_ENV=$${BRAGABOT_ENV:-development} $(PY) manage.py setup

# The Helm chart, offline: lint, render (defaults and helm/bragabot/ci/*-values.yaml) and
# validate every manifest against Kubernetes' schemas (helm/check.py).
helm-check: install
	$(PY) -m helm.check

clean:
	rm -rf $(VENV) .data

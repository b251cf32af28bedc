# Every target does its own set-up: a fresh machine needs only Python 3.11+ and make.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo serve test check lint typecheck bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,postgres,server,ray,media,gateway]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/trainguard demo

# A store with the demo's terms, an API key for tenant acme (printed once), and
# the service on http://127.0.0.1:8000 (docs/http.md has the curl calls).
serve: $(STAMP)
	$(BIN)/trainguard --db serve-demo.db init
	$(BIN)/trainguard --db serve-demo.db policy add $(wildcard src/trainguard/demo/policies/v[123]-*.yaml)
	$(BIN)/trainguard --db serve-demo.db tenant assign acme meetco-terms
	$(BIN)/trainguard --db serve-demo.db apikey create --role admin --tenant acme --name make-serve
	$(BIN)/trainguard --db serve-demo.db serve

test: $(STAMP)
	$(BIN)/pytest -q

lint: $(STAMP)
	$(BIN)/ruff check src tests bench scripts
	$(BIN)/ruff format --check src tests bench scripts

typecheck: $(STAMP)
	$(BIN)/mypy

check: lint typecheck test

# The peers are installed for the benchmarks only: they are not dependencies.
bench: $(STAMP)
	$(BIN)/pip install --quiet cedarpy datatrove regex spacy
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache

# Every target does its own set-up: a fresh machine needs only Python 3.11+ and make.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo serve test test-nojit check lint typecheck bench clean

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

# On every core (pytest-xdist); the tests that start Ray share one worker.
test: $(STAMP)
	$(BIN)/pytest -q -n auto --dist loadgroup

# The compiled kernels as plain Python (NUMBA_DISABLE_JIT=1): each held to its
# reference, and the modules around them, without numba's compiler in the way.
# Tests marked jit_only (real data through the kernels) skip there. The decision
# core compiles nothing, so its tests run once, in make test.
NOJIT_TESTS := tests/_native tests/test_canonical.py tests/test_verify.py \
	tests/audit/test_merkle.py tests/audit/test_collect.py tests/audit/test_schema.py \
	tests/audit/test_log.py::test_claimed_indexes_match_the_reference \
	tests/gate/test_content.py tests/gate/test_unique.py tests/gate/test_leaves.py \
	tests/scan/test_fingerprint.py tests/scan/test_bloom.py tests/scan/test_regions.py \
	tests/scan/test_lookup.py tests/scan/test_normalize.py tests/scan/test_jsonline.py \
	tests/scan/test_corpus.py::test_joined_lines_match_the_reference \
	tests/scan/test_matcher.py::test_the_batch_samples_match_the_reference \
	tests/scan/media/test_audio_kernels.py tests/scan/media/test_index.py \
	tests/scan/media/test_spots.py
test-nojit: $(STAMP)
	NUMBA_DISABLE_JIT=1 $(BIN)/pytest -q -n auto -m "not slow" $(NOJIT_TESTS)

lint: $(STAMP)
	$(BIN)/ruff check src tests bench scripts
	$(BIN)/ruff format --check src tests bench scripts

typecheck: $(STAMP)
	$(BIN)/mypy

check: lint typecheck test test-nojit

# The peers are installed for the benchmarks only: they are not dependencies.
bench: $(STAMP)
	$(BIN)/pip install --quiet cedarpy datatrove regex spacy
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache

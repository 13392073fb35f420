# The two commands of the README: `make run` and `make test`. Everything they need is installed here.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
WEB := services/ha_ai_agent/web
BUNDLE := services/ha_ai_agent/static/app.js
CHROMIUM ?= /usr/bin/chromium
WEB_SOURCES := $(wildcard $(WEB)/src/*.ts) $(WEB)/index.html $(WEB)/style.css $(WEB)/build.mjs

.PHONY: run test test-python test-web lint web chromium backends bench reliability clean

run: $(STAMP) $(BUNDLE)
	$(BIN)/ha-ai-agent serve

# Installs what the tests need (venv, npm packages, Chromium, the real backends), then runs all tests.
test: $(STAMP) $(BUNDLE) chromium backends lint test-web test-python

test-python: $(STAMP)
	$(BIN)/pytest

test-web: $(WEB)/node_modules/.installed
	npm --prefix $(WEB) test

lint: $(STAMP)
	$(BIN)/ruff check services support tests benchmarks scripts
	$(BIN)/mypy
	$(BIN)/mypy support/src scripts tests benchmarks

# $(call venv,FOLDER,EXTRAS): a venv with the service (and EXTRAS) and the support package, editable.
define venv
	$(PYTHON) -m venv $(1)
	$(1)/bin/pip install --quiet --upgrade pip
	$(1)/bin/pip install --quiet -e '.[$(2)]' -e support
	touch $(1)/.installed
endef

$(STAMP): pyproject.toml support/pyproject.toml
	$(call venv,$(VENV),dev)

# The benchmarks run from a venv of their own with the peers' packages (the `bench` extra), which `make test`
# must not load.
BENCH_VENV := .venv-bench
$(BENCH_VENV)/.installed: pyproject.toml support/pyproject.toml
	$(call venv,$(BENCH_VENV),bench)

$(WEB)/node_modules/.installed: $(WEB)/package.json $(WEB)/package-lock.json
	npm --prefix $(WEB) ci --no-audit --no-fund
	touch $@

web: $(BUNDLE)
$(BUNDLE): $(WEB)/node_modules/.installed $(WEB_SOURCES)
	npm --prefix $(WEB) run build

# Debian's Chromium for the browser tests (no browser download: Playwright drives this one).
chromium:
	@if [ ! -x "$(CHROMIUM)" ]; then \
		echo "Installing Debian's chromium for the browser tests"; \
		if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
		$$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium; \
	fi

# Jaeger, Prometheus and the collector, built from the Go module proxy into a cache outside the clone
# (Tempo is refused by our module proxy: see docs/stack.md).
backends: $(STAMP)
	$(BIN)/python scripts/build_backends.py

# Faults and abuse on loopback against the real backends (minutes); writes docs/reliability.md.
reliability: $(STAMP) $(BUNDLE) backends
	$(BIN)/python scripts/reliability.py

bench: $(BENCH_VENV)/.installed
	$(BENCH_VENV)/bin/python -m benchmarks.run_all

clean:
	rm -rf $(VENV) $(BENCH_VENV) $(WEB)/node_modules services/ha_ai_agent/static

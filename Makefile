PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-test
DEMO_STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck pytest bench clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(DEMO_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[server,redis,proxy,js]'
	touch $@

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -e '.[test,server,redis,proxy,tls,js]'
	touch $@

demo: $(DEMO_STAMP)
	@echo "Try next, in another terminal (the server prints one line per request):"
	@echo "  curl -si http://127.0.0.1:$${PORT:-8000}/static/site.css | grep -i -E '^(x-cache|age):'   # twice: Miss, then Hit"
	@echo "  curl -si http://127.0.0.1:$${PORT:-8000}/account/   # the auth viewer-request redirects to /login"
	@echo "  open http://127.0.0.1:$${PORT:-8000}/_edge/   # the inspector: each request's triggers, cache key, TTL"
	@echo "  .venv/bin/edge-middleware invalidate '/static/*' --server http://127.0.0.1:$${PORT:-8000}"
	cd examples/site && ../../$(BIN)/edge-middleware serve app:app --config distribution.json \
		--handler auth=handlers.auth:handler \
		--handler security-headers=handlers.security_headers:handler \
		--handler security-headers-node=handlers/security-headers.handler \
		--handler spa-rewrite=functions/spa-rewrite.js \
		--host 127.0.0.1 --port $${PORT:-8000}

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/coverage run --branch --source=edge_middleware -m pytest $(PYTEST_ARGS)
	$(BIN)/coverage report --precision=1 --skip-covered --sort=cover | tail -n 25

test: lint typecheck pytest

bench: $(STAMP)
	$(BIN)/pip install -q -e '.[bench]'
	@# case 3's load comes from wrk (Debian's package) when it can be installed: a C client
	@# leaves more of the 2 cores to the server than the Python fallback (benchmarks/loadgen.py)
	@if ! command -v wrk >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1 \
		&& [ "$$(id -u)" = 0 ]; then \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk; } \
			>/dev/null 2>&1 || true; \
	fi
	@command -v wrk >/dev/null 2>&1 || echo "wrk is not installed: case 3 uses benchmarks.loadgen"
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache

PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-test
DEMO_STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck pytest test-eager bench cache-tests clean

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

# The ASGI door starts the origin app's task eagerly on Python 3.12+ (doors/eager.py), a path
# the main run on 3.11 does not take: the door tests run again on the first Python 3.12+ found
# (on PATH, or installed by pyenv), in a venv of their own. Without one, a line says so.
EAGER_VENV := .venv-eager
EAGER_TESTS := tests/test_origin_task.py tests/test_frontdoors.py tests/test_door_answers.py \
	tests/test_asgi_origin_scope.py tests/test_fast_path.py tests/test_include_body_stream.py \
	tests/test_origins.py tests/test_cache_scenarios.py

#: prints the first Python 3.12+ on PATH or installed by pyenv (nothing when there is none)
FIND_EAGER_PY = for p in python3.13 python3.12 $$HOME/.pyenv/versions/3.1[2-9]*/bin/python3; do \
	"$$p" -c 'import sys; sys.exit(sys.version_info < (3, 12))' >/dev/null 2>&1 \
		&& { echo "$$p"; break; }; done

test-eager:
	@py=$$($(FIND_EAGER_PY)); \
	if [ -z "$$py" ]; then \
		echo "test-eager: no Python 3.12+ here: the eager-start path (doors/eager.py) is untested"; \
		exit 0; \
	fi; \
	set -e; \
	[ -x $(EAGER_VENV)/bin/python ] || "$$py" -m venv $(EAGER_VENV); \
	$(EAGER_VENV)/bin/pip install -q -e '.[test]'; \
	echo "test-eager: $$($(EAGER_VENV)/bin/python -V), door tests with eager tasks"; \
	$(EAGER_VENV)/bin/python -m pytest -q -p no:cacheprovider -m "not slow" $(EAGER_TESTS)

test: lint typecheck pytest test-eager

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
	@# case 1 again on Python 3.12+, where the ASGI origin task starts eagerly (doors/eager.py)
	@py=$$($(FIND_EAGER_PY)); \
	if [ -z "$$py" ]; then \
		echo "no Python 3.12+ here: case 1 ran on $$($(BIN)/python -V) only"; exit 0; \
	fi; \
	set -e; \
	[ -x $(EAGER_VENV)/bin/python ] || "$$py" -m venv $(EAGER_VENV); \
	$(EAGER_VENV)/bin/pip install -q -e '.[test,bench]'; \
	$(EAGER_VENV)/bin/python -m benchmarks --only 1 --out benchmarks/results/eager

# The public HTTP cache conformance suite (cache-tests.fyi) through the dev server on both doors,
# with the scores of the caches on record there (conformance/cache_tests/README.md). Needs
# Node.js and npm (the suite's origin and client: npm's http-cache-tests, pinned).
cache-tests: $(STAMP)
	$(BIN)/python -m conformance.cache_tests

clean:
	rm -rf $(VENV) $(EAGER_VENV) .mypy_cache .pytest_cache .ruff_cache \
		conformance/cache_tests/node_modules conformance/cache_tests/work

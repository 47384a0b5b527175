# One task runner for ORIN. `make run` and `make test` work on a fresh Debian 12 machine.
UV := scripts/uv
PYTEST_WORKERS ?= 3

.PHONY: setup run run-processes test test-fast lint format typecheck check bench doctor migrate \
  web-build web-typecheck web-client web-dev

setup: ## install system packages (FFmpeg, the demo video), Python dependencies and detector models from the lockfiles
	scripts/system-packages
	$(UV) sync --frozen
	scripts/models

run: setup web-build ## run ORIN with the embedded default (SQLite, memory, in-process bus, local files)
	$(UV) run --frozen orin run

run-processes: setup web-build ## the same roles as supervised child processes
	$(UV) run --frozen orin run --processes

migrate: setup
	$(UV) run --frozen orin migrate

doctor: setup
	$(UV) run --frozen orin doctor

test: setup web-build ## lint, type-check, then the whole test suite against real services
	scripts/system-packages pgbouncer chromium fonts-dejavu-core gir1.2-gst-rtsp-server-1.0 \
	  python3-gst-1.0 gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good \
	  gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly gstreamer1.0-libav gstreamer1.0-x
	scripts/install-pgvector
	$(UV) run --frozen ruff check .
	$(UV) run --frozen ruff format --check .
	$(UV) run --frozen mypy
	$(MAKE) --no-print-directory web-typecheck
	$(UV) run --frozen pytest -n $(PYTEST_WORKERS) --dist loadfile

test-fast: ## tests only, without the slow process-supervision ones
	$(UV) run --frozen pytest -n $(PYTEST_WORKERS) --dist loadfile -m "not slow"

lint:
	$(UV) run --frozen ruff check .
	$(UV) run --frozen ruff format --check .

format:
	$(UV) run --frozen ruff check --fix .
	$(UV) run --frozen ruff format .

typecheck: web-typecheck
	$(UV) run --frozen mypy

check: lint typecheck

bench: setup ## benchmarks print figures against a baseline in the same run
	scripts/install-pgvector
	$(UV) run --frozen python bench/bus_bench.py
	$(UV) run --frozen python bench/outbox_bench.py
	$(UV) run --frozen python bench/auth_bench.py
	$(UV) run --frozen python bench/events_bench.py
	$(UV) run --frozen python bench/ingest_bench.py
	$(UV) run --frozen python bench/live_latency_bench.py
	$(UV) run --frozen python bench/detectors_bench.py
	$(UV) run --frozen python bench/vision_bench.py
	$(UV) run --frozen python bench/realtime_bench.py
	$(UV) run --frozen python bench/web_load_bench.py
	$(UV) run --frozen python bench/make_run_bench.py

# The web app (web/, see docs/web.md): `npm ci` when the lockfile changed, `npm run build` when a
# source changed; `orin api` serves web/dist.
WEB_SOURCES := $(shell find web/src web/public -type f 2>/dev/null) web/index.html \
  web/vite.config.ts web/tsconfig.json web/package.json

web/node_modules/.package-lock.json: web/package-lock.json
	cd web && npm ci --no-audit --no-fund
	touch $@

web/dist/index.html: web/node_modules/.package-lock.json $(WEB_SOURCES)
	cd web && npm run build

web-build: web/dist/index.html ## build the web app into web/dist (skipped when up to date)

web-typecheck: web/node_modules/.package-lock.json ## type-check the web app (`tsc -b`; `make test` runs it, `make run` does not wait for it)
	cd web && npm run typecheck

web-client: web/node_modules/.package-lock.json ## regenerate web/src/api/schema.d.ts from the OpenAPI schema
	$(UV) run --frozen python -m orin.web.openapi web/node_modules/.orin/openapi.json
	cd web && node_modules/.bin/openapi-typescript node_modules/.orin/openapi.json --default-non-nullable false -o src/api/schema.d.ts

web-dev: web/node_modules/.package-lock.json ## Vite dev server on :5173, proxying /api to `orin run` on :8000
	cd web && npm run dev

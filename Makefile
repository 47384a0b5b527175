# One task runner for ORIN. `make run` and `make test` work on a fresh Debian 12 machine.
UV := scripts/uv
PYTEST_WORKERS ?= 3

.PHONY: setup run run-processes test test-fast lint format typecheck check bench doctor migrate

setup: ## install system packages (FFmpeg, the demo video), Python dependencies and detector models from the lockfiles
	scripts/system-packages
	$(UV) sync --frozen
	scripts/models

run: setup ## run ORIN with the embedded default (SQLite, memory, in-process bus, local files)
	$(UV) run --frozen orin run

run-processes: setup ## the same roles as supervised child processes
	$(UV) run --frozen orin run --processes

migrate: setup
	$(UV) run --frozen orin migrate

doctor: setup
	$(UV) run --frozen orin doctor

test: setup ## lint, type-check, then the whole test suite against real services
	scripts/system-packages pgbouncer chromium fonts-dejavu-core gir1.2-gst-rtsp-server-1.0 \
	  python3-gst-1.0 gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good \
	  gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly gstreamer1.0-libav gstreamer1.0-x
	scripts/install-pgvector
	$(UV) run --frozen ruff check .
	$(UV) run --frozen ruff format --check .
	$(UV) run --frozen mypy
	$(UV) run --frozen pytest -n $(PYTEST_WORKERS) --dist loadfile

test-fast: ## tests only, without the slow process-supervision ones
	$(UV) run --frozen pytest -n $(PYTEST_WORKERS) --dist loadfile -m "not slow"

lint:
	$(UV) run --frozen ruff check .
	$(UV) run --frozen ruff format --check .

format:
	$(UV) run --frozen ruff check --fix .
	$(UV) run --frozen ruff format .

typecheck:
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
	$(UV) run --frozen python bench/vision_bench.py

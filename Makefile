# The single entry point, the same locally and in CI: it owns the virtual environment,
# so a fresh Debian machine needs nothing but make and Python 3.11.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DEMO := .demo

.PHONY: install chromium postgres wrk podman nginx wheels image format lint test bench bench-limit bench-profile bench-overload bench-score demo clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV) || { apt-get update && apt-get install -y python3-venv && $(PYTHON) -m venv $(VENV); }
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[all,dev]"
	touch $@

install: $(BIN)/.installed

# The end-to-end tests drive Debian's Chromium (Playwright never downloads a browser here).
chromium:
	command -v chromium >/dev/null || (apt-get update && apt-get -o DPkg::Lock::Timeout=300 install -y chromium)

# The batch scorer's tests start their own throwaway cluster from Debian's PostgreSQL binaries.
postgres:
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || (apt-get update && apt-get -o DPkg::Lock::Timeout=300 install -y postgresql)

# The container image's test builds and runs it with Debian's podman, on a base image made
# with mmdebstrap (no image registry needed); runc, because crun fails on some kernels.
podman:
	command -v podman >/dev/null && command -v mmdebstrap >/dev/null && command -v runc >/dev/null \
		|| (apt-get update && apt-get -o DPkg::Lock::Timeout=300 install -y podman mmdebstrap runc)

# The test of deploy/nginx/ starts Debian's nginx in front of a real server (TLS with openssl).
nginx:
	(command -v nginx || test -x /usr/sbin/nginx) >/dev/null && command -v openssl >/dev/null \
		|| (apt-get update && apt-get -o DPkg::Lock::Timeout=300 install -y nginx openssl)

# The image is built from wheels made here, so the build itself needs no network:
# dependencies in wheelhouse/, modelport in dist/ (see deploy/README.md).
IMAGE_EXTRAS ?= batch,postgres,dashboard,fast
wheels: install
	rm -rf wheelhouse dist/modelport-*.whl
	$(BIN)/pip wheel --quiet --wheel-dir wheelhouse ".[$(IMAGE_EXTRAS)]"
	mkdir -p dist && mv wheelhouse/modelport-*.whl dist/

CONTAINER ?= podman
image: wheels
	$(CONTAINER) build -f deploy/Dockerfile --build-arg EXTRAS=$(IMAGE_EXTRAS) -t modelport:latest .

# The benchmark's load generator, from Debian's packages.
wrk:
	command -v wrk >/dev/null || (apt-get update && apt-get -o DPkg::Lock::Timeout=300 install -y wrk)

# modelport against tutorial-style Flask and FastAPI servers and the bare ASGI + ONNX Runtime
# reference, with the speed targets met or not; writes bench/results/.
bench: install wrk
	$(BIN)/python bench/run.py

# Only the targets' points (rf; the reference, modelport native and onnx, the monitoring
# pair), two rounds of 5 s each: about 3 minutes; writes bench/results/limit.md.
bench-limit: install wrk
	$(BIN)/python bench/run.py --limit --seconds 5

# py-spy on a modelport server under wrk (native and onnx; 1 row at 64 connections, 1,000
# rows at 8): the top frames by own and total time; writes bench/results/profile/.
bench-profile: install wrk
	$(BIN)/python bench/hotspots.py

# 256 connections on the rf model, admission control on and off; writes bench/results/.
bench-overload: install wrk
	$(BIN)/python bench/overload.py

# The batch scorer against predict_proba alone and a plain pandas script; writes bench/results/.
bench-score: install
	$(BIN)/python bench/score.py

format: install
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix src tests bench

lint: install
	$(BIN)/ruff format --check src tests bench
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy src

test: lint chromium postgres podman nginx
	$(BIN)/pytest

demo: install
	$(BIN)/modelport example wind-turbine --output $(DEMO)/wind-turbine.joblib --data $(DEMO)/readings.csv
	$(BIN)/modelport inspect $(DEMO)/wind-turbine.joblib
	$(BIN)/modelport score $(DEMO)/wind-turbine.joblib $(DEMO)/readings.csv --id-column id \
		--output sqlite:///$(DEMO)/predictions.db
	$(BIN)/modelport runs sqlite:///$(DEMO)/predictions.db
	$(BIN)/modelport predict $(DEMO)/wind-turbine.joblib '[{"Ws1_avg": 4}, {"Ws1_avg": 9}, {"Ws1_avg": 14}]'
	$(BIN)/modelport example bank-marketing --output $(DEMO)/bank-marketing.joblib
	$(BIN)/modelport predict $(DEMO)/bank-marketing.joblib --proba \
		'{"age": 35, "job": "student", "marital": "single", "education": "tertiary", "balance": 1200, "housing": "no", "loan": "no", "duration": 600, "campaign": 1}'
	@echo "Serving wind-turbine on http://127.0.0.1:5000 (docs: /docs); Ctrl-C stops it."
	$(BIN)/modelport serve $(DEMO)/wind-turbine.joblib

clean:
	rm -rf $(VENV) $(DEMO) .mypy_cache .ruff_cache .pytest_cache wheelhouse dist

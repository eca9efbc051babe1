# faceprint: `make demo` and `make test` set up .venv from nothing, then run.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
export FACEPRINT_DATA ?= $(abspath ../shared/data)

.PHONY: demo test bench serve clean browser

$(STAMP): requirements/runtime.txt requirements/nodeps.txt requirements/dev.txt requirements/bench.txt pyproject.toml
	rm -rf $(VENV)
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -r requirements/dev.txt
	$(BIN)/pip install -q --disable-pip-version-check --no-deps -r requirements/nodeps.txt
	$(BIN)/pip install -q --disable-pip-version-check --no-deps -r requirements/bench.txt
	$(BIN)/pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/faceprint demo --out demo-output

test: $(STAMP) browser
	$(BIN)/python -m pytest -q

# Debian's Chromium for the browser tests, installed when missing and this user may;
# otherwise a loud warning here and in the test summary.
browser:
	@scripts/ensure-browser.sh

# The HTTP service on http://127.0.0.1:8300 (console at /console/). Issue a key first:
#   .venv/bin/faceprint keys create --role admin --purpose "..."
HOST ?= 127.0.0.1
PORT ?= 8300
serve: $(STAMP)
	$(BIN)/faceprint serve --host $(HOST) --port $(PORT)

# Full measurements: LFW for every embedder, detection, identification, and the
# peer benchmark against face_recognition. Results go to bench-output/ and docs/.
bench: $(STAMP)
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(VENV) demo-output bench-output

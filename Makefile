# `make demo` and `make test` set up .venv/ on first use (tools/setup_env.sh),
# then reuse it: the stamp .venv/.ready is remade only when the pins change.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.ready
# pytest-xdist workers for `make test` (0: one process). `make test TEST_WORKERS=2` takes
# about half the time on 2 cores (each worker gets its share of the cores, tests/conftest.py),
# but once in six runs here a worker died and xdist's per-file scheduling then waited forever;
# with --max-worker-restart=0 such a run stops and names the test instead. CI runs one process.
TEST_WORKERS ?= 0

.PHONY: setup demo test clean-demo

setup: $(STAMP)

$(STAMP): constraints.txt setup.py tools/setup_env.sh
	PYTHON=$(PYTHON) bash tools/setup_env.sh

demo: $(STAMP)
	PYTHONUNBUFFERED=1 $(PY) tools/demo.py

test: $(STAMP)
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile --max-worker-restart=0 tests

clean-demo:
	rm -rf work_dirs/demo

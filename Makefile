# `make demo` and `make test` set up .venv/ on first use (tools/setup_env.sh),
# then reuse it: the stamp .venv/.ready is remade only when the pins change.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.ready
# pytest-xdist workers for `make test` (0: one process, about twice as long). Each worker
# gets its share of the cores (tests/conftest.py); the trained detector and its dataset
# are made once per run; files are handed out longest first (conftest's LONGEST_FIRST).
# --max-worker-restart=0: a worker that dies stops the run and names its test, where
# xdist's per-file scheduling would otherwise wait forever.
TEST_WORKERS ?= 2

.PHONY: setup demo test clean-demo

setup: $(STAMP)

$(STAMP): constraints.txt setup.py tools/setup_env.sh
	PYTHON=$(PYTHON) bash tools/setup_env.sh

demo: $(STAMP)
	PYTHONUNBUFFERED=1 $(PY) tools/demo.py

test: $(STAMP)
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder \
		--max-worker-restart=0 tests

clean-demo:
	rm -rf work_dirs/demo

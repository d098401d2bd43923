# Two commands (see README):  make demo  |  make test
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: setup demo test lint imports data clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c constraints.txt -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

# Fashion-MNIST: the download path is tried by aelab itself; on machines without
# network, Debian's package provides the files offline.
data: setup
	@if ! $(PY) -m aelab data info fashion-mnist >/dev/null 2>&1; then \
	  if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	    (apt-get install -y -qq dataset-fashion-mnist || (apt-get update -qq && apt-get install -y -qq dataset-fashion-mnist)) >/dev/null; \
	  fi; \
	  $(PY) -m aelab data fetch fashion-mnist; \
	fi

# The main job: train the R1 preset (sparse dense autoencoder, 50 epochs) on Fashion-MNIST,
# evaluate it and write runs/r1-fashion-sparse/ with its figures and report.html.
DEMO_RUN ?= runs/r1-fashion-sparse
demo: data
	$(PY) -m aelab train --preset r1-fashion-sparse --out $(DEMO_RUN) --overwrite
	@echo "report: $(DEMO_RUN)/report.html"

# pytest exits 5 when it collected nothing: that is a failed suite, not a pass.
test: setup
	@$(PY) -m pytest -q -n 2 --dist loadgroup; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make test: pytest collected no tests"; exit 1; fi; exit $$rc

# The architecture contracts (.importlinter): layers in order, no cycles, a trainer that
# imports no model family. CI runs this before the tests.
imports: setup
	$(VENV)/bin/lint-imports

lint: imports
	$(PY) -m ruff check src tests benchmarks
	$(PY) -m ruff format --check src tests benchmarks

clean:
	rm -rf $(VENV) runs .pytest_cache

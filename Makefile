# Two commands (see README):  make demo  |  make test
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: setup demo test lint data clean

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

demo: data
	$(PY) -m aelab data info fashion-mnist

test: setup
	$(PY) -m pytest -q

lint: setup
	$(PY) -m ruff check src tests benchmarks
	$(PY) -m ruff format --check src tests benchmarks

clean:
	rm -rf $(VENV) runs .pytest_cache

# The two commands of the README: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DEMO := demo-data
LOOKALIKE := $(BIN)/lookalike --db $(DEMO)/lookalike.db

.PHONY: demo test install clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

install: $(VENV)/.installed

demo: install
	$(BIN)/python -m lookalike.demo $(DEMO)
	$(LOOKALIKE) index $(DEMO)/gallery --label-from prefix
	$(LOOKALIKE) search $(DEMO)/queries/astronaut-rot90.jpg -k 5
	$(LOOKALIKE) search $(DEMO)/queries/coffee-crop80.jpg -k 5
	$(LOOKALIKE) compare $(DEMO)/gallery/chelsea.png $(DEMO)/queries/chelsea-jpeg15.jpg || true
	$(LOOKALIKE) duplicates

test: install
	$(BIN)/python -m pytest -q

clean:
	rm -rf $(VENV) $(DEMO) .pytest_cache

# The two commands of the README: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DEMO := demo-data
LOOKALIKE := $(BIN)/lookalike --db $(DEMO)/lookalike.db

.PHONY: demo test bench install browser clean

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

# The web page's end-to-end tests drive Debian's Chromium (installed here when we are root).
browser:
	@command -v chromium >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null; \
	  else echo "browser tests will be skipped: install Debian's chromium (sudo apt-get install chromium)"; fi; }

test: install browser
	$(BIN)/python -m pytest -q

# Long: prepares real data sets from Debian packages (installed when we are root), measures
# lookalike and its peers, and rewrites docs/benchmarks.md. Not part of `make test`.
$(VENV)/.bench-installed: $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -e '.[test,bench]'
	$(BIN)/python -m pip install --quiet --no-deps imagededup
	touch $@

bench: $(VENV)/.bench-installed
	$(BIN)/python -m bench.run

clean:
	rm -rf $(VENV) $(DEMO) .pytest_cache

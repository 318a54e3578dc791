# The two commands a newcomer needs: `make run` and `make test`.
# Each creates .venv when missing and installs what it needs (Debian packages included).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test lint format bench package clean

$(STAMP): pyproject.toml scripts/system-deps
	./scripts/system-deps
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "mua needs Python 3.11 or newer")'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test,package]'
	touch $(STAMP)

# With a display: the desktop app. Without one: the terminal demo of the embedded mail world.
run: $(STAMP)
	$(VENV)/bin/mua

test: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest

format: $(STAMP)
	$(PY) -m ruff check --fix .
	$(PY) -m ruff format .

# The Linux artefacts in dist/: the one-folder app (mua/), a tarball and a self-extracting
# .run that installs for the user without root (packaging/README.md has the other systems).
package: $(STAMP)
	$(PY) packaging/linux.py

bench: $(STAMP)
	for b in bench/*.py; do $(PY) $$b || exit 1; done

clean:
	rm -rf $(VENV) build dist *.egg-info tests/artifacts

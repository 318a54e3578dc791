# The two commands a newcomer needs: `make run` and `make test`.
# Each creates .venv when missing and installs what it needs (Debian packages included).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# The translations: .po files are committed, .mo files built here (README, "Languages").
PO := $(wildcard mua/locale/*/LC_MESSAGES/mua.po)
MO := $(PO:.po=.mo)

.PHONY: run test lint format bench package clean po

$(STAMP): pyproject.toml scripts/system-deps
	./scripts/system-deps
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "mua needs Python 3.11 or newer")'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test,package]'
	$(VENV)/bin/pybabel compile --domain mua --directory mua/locale
	touch $(STAMP)

# A .po edited since its .mo was built.
mua/locale/%/LC_MESSAGES/mua.mo: mua/locale/%/LC_MESSAGES/mua.po | $(STAMP)
	$(VENV)/bin/pybabel compile --domain mua --input-file $< --output-file $@ --locale $*

# After changing marked strings: extract them into mua/locale/mua.pot and merge that into
# every .po; translate the new entries (empty msgstr), then `make` compiles them.
po: $(STAMP)
	$(PY) scripts/catalogs.py extract
	$(PY) scripts/catalogs.py update

# With a display: the desktop app. Without one: the terminal demo of the embedded mail world.
run: $(STAMP) $(MO)
	$(VENV)/bin/mua

test: $(STAMP) $(MO)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy
	$(VENV)/bin/lint-imports --no-logo
	QT_QPA_PLATFORM=offscreen $(PY) -m pytest

format: $(STAMP)
	$(PY) -m ruff check --fix .
	$(PY) -m ruff format .

# The Linux artefacts in dist/: the one-folder app (mua/), a tarball and a self-extracting
# .run that installs for the user without root (packaging/README.md has the other systems).
package: $(STAMP) $(MO)
	$(PY) packaging/linux.py

bench: $(STAMP)
	for b in bench/*.py; do $(PY) $$b || exit 1; done

clean:
	rm -rf $(VENV) build dist *.egg-info tests/artifacts

# Two commands on a fresh machine: `make demo` runs the portal on real footage, `make test` runs
# the tests. Each installs what it needs into .venv first.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
INSTALLED := $(VENV)/.installed

.PHONY: demo test install

install: $(INSTALLED)

$(INSTALLED): requirements.txt requirements-nodeps.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps -r requirements-nodeps.txt
	touch $(INSTALLED)

demo: $(INSTALLED)
	$(PY) manage.py migrate --noinput
	$(PY) manage.py demo

test: $(INSTALLED)
	$(PY) -m pytest

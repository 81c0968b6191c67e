# Two commands: `make demo` and `make test`. Each sets everything up on a fresh machine first
# (Debian packages that are missing, the virtual environment with pinned dependencies) and a
# second run skips what is done.
SHELL := /bin/bash
VENV  := .venv
PY    := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: demo test bench setup system venv lint contracts clean-venv

demo: setup
	$(VENV)/bin/gallery demo

test: setup
	$(PY) -m pytest

bench: setup
	@for f in bench/*.py; do echo "== $$f"; $(PY) $$f || exit 1; done

setup: system venv

system:
	@bash scripts/system-deps.sh

venv: $(STAMP)

$(STAMP): requirements.txt constraints.txt pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q -r requirements.txt -c constraints.txt
	$(PY) -m pip install -q --no-deps --no-build-isolation -e .
	touch $(STAMP)

lint: setup
	$(VENV)/bin/ruff check .

clean-venv:
	rm -rf $(VENV)

# Two commands: `make demo` and `make test`. Each sets everything up on a fresh machine first
# (Debian packages that are missing, the virtual environment with pinned dependencies) and a
# second run skips what is done.
SHELL := /bin/bash
VENV  := .venv
PY    := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: demo test bench setup system venv lint contracts node-deps clean-venv

demo: setup
	$(VENV)/bin/gallery demo

test: setup
	$(PY) -m pytest

bench: setup
	@for f in bench/*.py; do echo "== $$f"; $(PY) $$f || exit 1; done

setup: system venv node-deps

system:
	@bash scripts/system-deps.sh

venv: $(STAMP)

$(STAMP): requirements.txt constraints.txt pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q -r requirements.txt -c constraints.txt
	$(PY) -m pip install -q --no-deps --no-build-isolation -e .
	touch $(STAMP)

# npm packages of minting/ (solc-js, erc721a, OpenZeppelin, ipfs-car, hardhat), pinned by package-lock.json.
NODE_STAMP := minting/contracts/node_modules/.installed-stamp
node-deps: $(NODE_STAMP)

$(NODE_STAMP): minting/contracts/package.json minting/contracts/package-lock.json
	@command -v npm >/dev/null || { echo "npm is missing: install Node.js 20 with npm" >&2; exit 1; }
	cd minting/contracts && npm ci --no-audit --no-fund --ignore-scripts
	touch $(NODE_STAMP)

# Recompile the set contract (solc-js standard JSON: evmVersion cancun, optimizer 200) into the
# committed artefact minting/artefacts/contracts.json.
contracts: node-deps
	cd minting/contracts && node compile.js

# ruff's rules (pyproject [tool.ruff.lint]) and the import contracts (pyproject [tool.importlinter]).
lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports

clean-venv:
	rm -rf $(VENV)

# The two commands of the README's quick start, and the pieces they are made of.
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: setup demo test lint bench

$(VENV)/.installed: pyproject.toml
	bash scripts/setup.sh "$(VENV)"
	touch $@

setup: $(VENV)/.installed

# Generate a sample case (seeded) and package it: the product's main job.
demo: setup
	$(PY) -m fixtures.generate case typical sample-case
	$(VENV)/bin/packager build sample-case --out sample-out

test: setup
	$(VENV)/bin/ruff check packager tests fixtures bench
	$(VENV)/bin/lint-imports
	$(VENV)/bin/pytest -n 2

bench: setup
	$(PY) bench/run.py

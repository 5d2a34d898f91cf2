PY ?= .venv/bin/python
DATA ?= ../shared/data

.PHONY: venv test test-all lint bench train-defaults

venv:
	python3 -m venv .venv && .venv/bin/pip install -q -e '.[dev]'

test:
	$(PY) -m pytest

test-all:
	$(PY) -m pytest -m ''

lint:
	.venv/bin/ruff check src tests scripts benchmarks

bench:
	$(PY) benchmarks/bench_generations.py --data $(DATA)

train-defaults:
	$(PY) scripts/train_classic_defaults.py --data $(DATA)

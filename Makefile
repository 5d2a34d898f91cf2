PY ?= .venv/bin/python
DATA ?= ../shared/data

.PHONY: venv test test-all lint bench bench-transformer train-defaults train-transformer

venv:
	python3 -m venv .venv && .venv/bin/pip install -q -e '.[dev,train]'

test:
	$(PY) -m pytest

test-all:
	$(PY) -m pytest -m ''

lint:
	.venv/bin/ruff check src tests scripts benchmarks

bench: bench-transformer
	$(PY) benchmarks/bench_generations.py --data $(DATA)

train-defaults:
	$(PY) scripts/train_classic_defaults.py --data $(DATA)

bench-transformer:
	$(PY) benchmarks/bench_transformer.py --data $(DATA)

train-transformer:
	$(PY) scripts/train_transformer_defaults.py --data $(DATA)

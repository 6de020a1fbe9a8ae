# xmsem — `make help` lists the targets.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(VENV)/bin/pip
STAMP  := $(VENV)/.installed
SWEEP  ?= outputs/sweeps/fmnist_pgnn_vs_mlp
ARGS   ?=

.DEFAULT_GOAL := help
.PHONY: help setup run test test-all lint format docs sweep analyze validate sync bench clean

help: ## list the targets
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q -e '.[dev,slurm]'
	touch $(STAMP)

setup: $(STAMP) ## create .venv and install xmsem with its dev extras

run: $(STAMP) ## train the default run (synthetic data, PGNN vs MLP); ARGS='...' adds Hydra overrides
	$(PY) -m xmsem.train $(ARGS)

test: $(STAMP) ## the fast test suite (what CI runs)
	$(PY) -m pytest -q $(ARGS)

test-all: $(STAMP) ## every test, slow ones included
	$(PY) -m pytest -q -m "" $(ARGS)

lint: $(STAMP) ## ruff lint and format check
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

docs: $(STAMP) ## build the documentation (docs/ -> site/) with mkdocs --strict; README.md is its home page
	sed -e 's#](docs/#](#g' README.md > docs/index.md
	$(VENV)/bin/mkdocs build --strict -q

format: $(STAMP) ## ruff format + autofix
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

sweep: $(STAMP) ## the paper's protocol: PGNN vs MLP on Fashion-MNIST, 5 seeds
	$(PY) -m xmsem.train +experiment=fmnist_pgnn_vs_mlp $(ARGS)

analyze: $(STAMP) ## aggregate a sweep into tables, figures and report.md (SWEEP=outputs/sweeps/<name>)
	$(PY) -m xmsem.analyze $(SWEEP) $(ARGS)

validate: $(STAMP) ## compose and validate every experiment config without training
	$(PY) -m xmsem.validate

sync: $(STAMP) ## upload offline wandb runs under outputs/ (wandb sync)
	@find outputs -type d -name 'offline-run-*' -print0 | xargs -0 -r $(VENV)/bin/wandb sync

bench: $(STAMP) ## side-by-side performance benchmarks (print ratios)
	$(PY) benchmarks/cka.py
	$(PY) benchmarks/callback_cost.py
	$(PY) benchmarks/analyze_sweep.py
	$(PY) benchmarks/train_speed.py

clean: ## remove caches (keeps .venv and outputs)
	rm -rf .pytest_cache .ruff_cache
	find . -name __pycache__ -type d -prune -exec rm -rf {} +

# Two commands do all the set-up on a fresh machine: `make demo` and `make test`.
# On a CPU machine torch comes from TORCH_SPEC (a local CPU build of torch 2.13.0 here), so pip never
# pulls CUDA wheels. GPU users: make test TORCH_SPEC="torch==2.13.0 --index-url https://…/cu128"
PYTHON ?= python3
VENV ?= .venv
TORCH_SPEC ?= torch==2.13.0
EXTRAS ?= dev
PY := $(VENV)/bin/python
PYTEST_ARGS ?= -n 2

.PHONY: install test demo lint bench clean

$(PY):
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed-$(EXTRAS): pyproject.toml | $(PY)
	@$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install $(TORCH_SPEC)
	$(PY) -m pip install -e ".[$(EXTRAS)]"
	@touch $@

install: $(VENV)/.installed-$(EXTRAS)

test: install
	$(PY) -m pytest $(PYTEST_ARGS)

demo: install
	$(VENV)/bin/geor1 demo

lint: install
	$(VENV)/bin/ruff check src tests benchmarks scripts

bench: install
	@for b in benchmarks/bench_*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache .hypothesis

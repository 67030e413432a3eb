# One command each for a fresh machine: `make demo` (set up + main job), `make test` (set up + tests).
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed
# Real data: INTERGRAPH_DATA, or ../shared/data when that folder exists.
INTERGRAPH_DATA ?= $(shell [ -d ../shared/data ] && cd ../shared/data && pwd)
export INTERGRAPH_DATA
PYTEST_ARGS ?=

.PHONY: setup demo test lint bench decoys clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: setup
	$(BIN)/intergraph demo

test: lint
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: setup
	$(BIN)/ruff check .

# Benchmarks compare against other tools, installed into a separate environment (never the main one).
BENCH_VENV = .venv-bench
$(BENCH_VENV)/.installed: $(STAMP) bench/requirements.txt
	$(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/pip install --quiet -r bench/requirements.txt
	# torch-based references: without their dependencies, torch comes from the main environment
	$(BENCH_VENV)/bin/pip install --quiet --no-deps egnn-pytorch==0.2.8 einops
	# reuse the main environment's packages (torch, intergraph) behind the bench-only ones
	echo "import site; site.addsitedir('$$($(BIN)/python -c 'import site; print(site.getsitepackages()[0])')')" \
		> $$($(BENCH_VENV)/bin/python -c "import site; print(site.getsitepackages()[0])")/intergraph-main.pth
	touch $@

bench: $(BENCH_VENV)/.installed
	$(BENCH_VENV)/bin/python bench/featurize.py
	$(BENCH_VENV)/bin/python bench/plm.py
	$(BENCH_VENV)/bin/python bench/encoders.py
	$(BIN)/python bench/video_ops.py
	$(BIN)/python bench/docking_search.py
	$(BIN)/python bench/qa_graphs.py

# QA decoys from the docking search for every DB5.5 complex, bound and unbound inputs (resumable: rerun to go on;
# a second worker on the same folder takes the targets in another order: `intergraph protein decoys --out DIR
# --ids <every id, reversed>`)
decoys: setup
	$(BIN)/intergraph protein decoys --out runs/decoys_db5_step30 --inputs bound
	$(BIN)/intergraph protein decoys --out runs/decoys_db5_unbound_step30 --inputs unbound

clean:
	rm -rf $(VENV) $(BENCH_VENV) runs .pytest_cache

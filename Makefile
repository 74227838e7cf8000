# qphys: every target sets up .venv itself (torch pinned first, then everything from constraints.txt).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.qphys-installed
PLUGINS := $(wildcard backends/*/pyproject.toml)
PYTEST_WORKERS ?= 2
# one BLAS/OpenMP thread per pytest worker: two workers x two torch threads on two cores spin-wait
TEST_ENV := OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1

.PHONY: setup demo test test-fast lint bench clean gpu-check gpu-check-cpu gpu-wheels

$(STAMP): pyproject.toml constraints.txt $(PLUGINS)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade "pip>=24"
	$(BIN)/python -m pip install -q "torch==2.13.0"
	$(BIN)/python -m pip install -q -c constraints.txt -e ".[all,test]" $(foreach p,$(PLUGINS),-e $(dir $(p)))
	touch $(STAMP)

setup: $(STAMP)

demo: setup
	$(BIN)/qphys demo --out out/demo

test: setup
	$(TEST_ENV) $(BIN)/python -m pytest -q -n $(PYTEST_WORKERS) --dist loadfile --durations=15

test-fast: setup
	$(TEST_ENV) $(BIN)/python -m pytest -q -n $(PYTEST_WORKERS) --dist loadfile -m "not slow"

lint: setup
	$(BIN)/ruff check qphys backends tests examples benchmarks
	$(BIN)/lint-imports --no-cache

# MerLin 0.4.2 (a peer of benchmarks/linear_optics.py) pins torch<2.13 but runs on 2.13: installed
# without deps (it needs perceval-quandela, numpy, scikit-learn: all installed by setup; pandas only
# for its datasets, unused)
bench: setup
	$(BIN)/python -m pip install -q -c constraints.txt -e ".[bench]"
	$(BIN)/python -m pip install -q --no-deps -c constraints.txt merlinquantum
	$(BIN)/qphys bench

# issue 16: the one prepared GPU run (on the GPU machine, with the wheels of gpu-wheels carried in .whl/;
# its python3 holds the CUDA torch, so no setup there) and its dry run on the CPU here
gpu-check:
	scripts/gpu_check.sh

gpu-check-cpu: setup
	scripts/gpu_check.sh --cpu

gpu-wheels:
	scripts/download_gpu_wheels.sh

clean:
	rm -rf $(VENV) out .pytest_cache

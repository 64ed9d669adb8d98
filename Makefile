# Two entry points for a fresh machine: `make reproduce` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
CORES ?= 2
# CPU wheel by default (installed first, so nothing pulls the CUDA build); GPU users:
#   make reproduce TORCH_SPEC=torch   (or use environment.yml)
TORCH_SPEC ?= torch==2.13.0
SNAKEMAKE_ARGS ?=

.PHONY: install reproduce test test-fast bench bench-quick gpu-check dry-run-paper ui clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Optional extras: `make reproduce EXTRAS=test,bm3d` adds the BM3D baseline (the bm3d package's
# licence allows non-commercial use only, so it is opt-in; without it the DAG skips BM3D).
EXTRAS ?= test
STAMP := $(VENV)/.installed.$(EXTRAS)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet "$(TORCH_SPEC)"
	$(BIN)/python -m pip install --quiet -e ".[$(EXTRAS)]"
	touch $@

install: $(STAMP)

# The main job: data checks -> train InvDN (two seeds), its ablation variants and the learned
# baselines (smoke scale) -> evaluate -> analyses -> Tables 2-5, the MC table and the figures ->
# results/<preset>/report.html (one self-contained page). PRESET=paper etc. for another preset
# (workflow/config/presets/), or CONFIG=my.yaml for a config of your own over the base.
PRESET ?= smoke
CONFIG ?= workflow/config/presets/$(PRESET).yaml
reproduce: install
	PATH="$(abspath $(BIN)):$$PATH" snakemake --cores $(CORES) --configfile $(CONFIG) $(SNAKEMAKE_ARGS)
	PATH="$(abspath $(BIN)):$$PATH" snakemake --cores $(CORES) --configfile $(CONFIG) --report results/$(PRESET)/report.html

# Everything: unit tests (tests/unit), integration tests (tests/integration: the CLI, bad input, torchrun,
# concurrency) and the real DAG on tiny configs (tests/workflow, marked slow). LaTeX tables are compiled
# when pdflatex is installed (.ci/run installs it), skipped with a message otherwise.
test: install
	PATH="$(abspath $(BIN)):$$PATH" python -m pytest

# The unit tests alone, without the slow ones: the quick check while editing (under 3 minutes).
test-fast: install
	PATH="$(abspath $(BIN)):$$PATH" python -m pytest tests/unit -m "not slow" -q

# Benchmarks print figures (never part of `make test`). `make bench` runs the suite (the machine's
# float32/bf16 conv limits, then inference, training steps, peak memory and data loading against
# them; about 9 min on 2 cores) and SIDD preparation speed; `make bench-quick` the suite in < 2 min.
bench: install
	PATH="$(abspath $(BIN)):$$PATH" python benchmarks/suite.py --out results/benchmarks/suite.json
	PATH="$(abspath $(BIN)):$$PATH" python benchmarks/prepare_sidd.py

bench-quick: install
	PATH="$(abspath $(BIN)):$$PATH" python benchmarks/suite.py --quick --out results/benchmarks/suite-quick.json

# The CUDA figures (training step time and memory at paper scale, AMP, MC batching, torchrun on NCCL,
# torch.compile / CUDA graphs, projected 600k-iteration time): at most 8 min on one H100. Needs the
# CUDA build of torch (TORCH_SPEC=torch). `make test` runs its logic on CPU at tiny sizes.
gpu-check: install
	PATH="$(abspath $(BIN)):$$PATH" python benchmarks/gpu_check.py --device cuda --out results/benchmarks/gpu_check.json

# Browse the MLflow runs at http://127.0.0.1:5000; only this machine can reach it unless you set
# UI_HOST=0.0.0.0 (then anyone on the network can read and delete runs: MLflow has no login).
UI_HOST ?= 127.0.0.1
UI_PORT ?= 5000
# The store: the workflow config's mlflow.tracking_uri (base.yaml), or `make ui UI_STORE=<uri>`.
UI_STORE ?= $(shell $(BIN)/python -c "import yaml; print(yaml.safe_load(open('workflow/config/base.yaml'))['mlflow']['tracking_uri'])")
ui: install
	$(BIN)/mlflow ui --backend-store-uri "$(UI_STORE)" --host $(UI_HOST) --port $(UI_PORT)

# Plan the paper-scale runs of every preset (no GPU or SIDD needed to plan), then audit every planned
# job's settings against the recipe each preset follows (docs/presets.md).
dry-run-paper: install
	for preset in paper official-code paddle; do \
	  PATH="$(abspath $(BIN)):$$PATH" snakemake -n -q --cores 1 --configfile workflow/config/presets/$$preset.yaml || exit 1; done
	$(BIN)/invdn presets audit --check --out docs/presets.md

clean:
	for preset in $$(ls workflow/config/presets | sed 's/\.yaml$$//'); do rm -rf results/$$preset; done
	rm -rf results/mlflow.db results/mlartifacts results/mlflow logs .snakemake

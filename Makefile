# Two entry points for a fresh machine: `make reproduce` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
CORES ?= 2
# CPU wheel by default (installed first, so nothing pulls the CUDA build). GPU users: where pip has no
# local CPU wheel, this same spec gets PyPI's CUDA build (or use environment.yml); another release
# needs LOCK= too, as the lock pins 2.13.0.
TORCH_SPEC ?= torch==2.13.0
SNAKEMAKE_ARGS ?=

.PHONY: install lock reproduce test test-fast bench bench-quick gpu-check dry-run-paper ui clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Optional extras: `make reproduce EXTRAS=test,bm3d` adds the BM3D baseline (the bm3d package's
# licence allows non-commercial use only, so it is opt-in; without it the DAG skips BM3D).
EXTRAS ?= test

# Exact versions by default: the lock file (pip-tools; header says how it was made). `make install
# LOCK=` or `make install RESOLVE=fresh` resolves pyproject.toml's ranges afresh instead; `make lock`
# regenerates the lock (`make lock LOCK_ARGS=--upgrade` moves every pin to the newest that fits).
LOCK_FILE := lock/requirements-cpu.txt
LOCK ?= $(LOCK_FILE)
ifeq ($(RESOLVE),fresh)
LOCK :=
endif
# One stamp per way of installing; a change of pyproject.toml or of the lock file reinstalls.
STAMP := $(VENV)/.installed.$(EXTRAS).$(if $(LOCK),locked,fresh)

$(STAMP): pyproject.toml $(LOCK) | $(BIN)/python
	rm -f $(VENV)/.installed.*
	$(BIN)/python -m pip install --quiet "$(TORCH_SPEC)"
ifneq ($(LOCK),)
	$(BIN)/python -m pip install --quiet -r $(LOCK)
	$(BIN)/python -m pip install --quiet --no-deps -e .
	if [ "$(EXTRAS)" != test ]; then $(BIN)/python -m pip install --quiet -c $(LOCK) -e ".[$(EXTRAS)]"; fi
else
	$(BIN)/python -m pip install --quiet -e ".[$(EXTRAS)]"
endif
	$(BIN)/python -m pip check
	touch $@

install: $(STAMP)

# Regenerate the lock with pip-tools in its own venv (a few minutes; needs PyPI and the local torch file).
LOCK_VENV := .venv-lock
PIP_TOOLS ?= pip-tools==7.6.2
LOCK_ARGS ?=
lock:
	test -x $(LOCK_VENV)/bin/pip-compile || { $(PYTHON) -m venv $(LOCK_VENV) && $(LOCK_VENV)/bin/python -m pip install --quiet "$(PIP_TOOLS)"; }
	CUSTOM_COMPILE_COMMAND="make lock" $(LOCK_VENV)/bin/pip-compile --quiet --extra test --strip-extras \
	  --no-emit-find-links --no-emit-index-url --no-emit-trusted-host $(LOCK_ARGS) -o $(LOCK_FILE) pyproject.toml lock/torch-cpu.in
	{ cat lock/header.txt; sed 's/^torch==\([0-9.]*\)+cpu$$/torch==\1/' $(LOCK_FILE); } > $(LOCK_FILE).tmp && mv $(LOCK_FILE).tmp $(LOCK_FILE)

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
	INVDN_LOCK="$(LOCK)" PATH="$(abspath $(BIN)):$$PATH" python -m pytest

# The unit tests alone, without the slow ones: the quick check while editing (under 3 minutes).
test-fast: install
	INVDN_LOCK="$(LOCK)" PATH="$(abspath $(BIN)):$$PATH" python -m pytest tests/unit -m "not slow" -q

# Benchmarks print figures (never part of `make test`). `make bench` runs the suite (the machine's
# float32/bf16 conv limits, then inference, training steps, peak memory and data loading against
# them; about 9 min on 2 cores) and SIDD preparation speed; `make bench-quick` the suite in < 2 min.
# OFFICIAL=<checkout of github.com/Yang-Liu1082/InvDN> adds the official code, timed in the same
# process (benchmarks/official.py; about 1.5 min more).
OFFICIAL ?=
bench: install
	PATH="$(abspath $(BIN)):$$PATH" python benchmarks/suite.py --out results/benchmarks/suite.json \
		$(if $(OFFICIAL),--official "$(OFFICIAL)")
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
# The store is the one the DAG writes to: mlflow.tracking_uri of $(CONFIG) over base.yaml, resolved as
# the jobs resolve it (`invdn runs uri` prints it); a tracking server (http) is already browsable.
UI_HOST ?= 127.0.0.1
UI_PORT ?= 5000
ui: install
	uri=$$($(BIN)/invdn runs uri --config workflow/config/base.yaml --config $(CONFIG)) || exit 1; \
	case "$$uri" in http://*|https://*) echo "the MLflow store is a tracking server: open $$uri";; \
	  *) echo "MLflow store: $$uri"; $(BIN)/mlflow ui --backend-store-uri "$$uri" --host $(UI_HOST) --port $(UI_PORT);; esac

# Plan the paper-scale runs of every preset (no GPU or SIDD needed to plan), then audit every planned
# job's settings against the recipe each preset follows (docs/presets.md).
dry-run-paper: install
	for preset in paper official-code paddle; do \
	  PATH="$(abspath $(BIN)):$$PATH" snakemake -n -q --cores 1 --configfile workflow/config/presets/$$preset.yaml || exit 1; done
	$(BIN)/invdn presets audit --check --out docs/presets.md

clean:
	for preset in $$(ls workflow/config/presets | sed 's/\.yaml$$//'); do rm -rf results/$$preset; done
	rm -rf results/mlflow.db results/mlartifacts results/mlflow logs .snakemake

"""What every rule declares beside its command: its software (a conda env and the container), its memory
and wall time, a benchmark file for training and evaluation jobs, and local execution for the cheap
table jobs. Read from the rules as Snakemake parsed them (its API, in a subprocess: the Snakefile sets
environment variables), on the smoke config."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from helpers import REPO

LOCK = REPO / "lock" / "requirements-cpu.txt"
ENV = REPO / "workflow" / "envs" / "invdn.yaml"
CONTAINERS = REPO / "containers"

READ_RULES = """
import json, os, sys
from pathlib import Path
from snakemake.api import SnakemakeApi
from snakemake.settings.types import OutputSettings, ResourceSettings
with SnakemakeApi(OutputSettings(quiet={"all"})) as api:
    w = api.workflow(resource_settings=ResourceSettings(cores=1), snakefile=Path(sys.argv[1]),
                     workdir=Path(sys.argv[2]))._workflow
    rules = {r.name: {"runs": not r.norun, "snakefile": r.snakefile, "conda": r.conda_env, "container": r.container_img,
                      "resources": sorted(r.resources), "benchmark": None if r.benchmark is None else str(r.benchmark),
                      "local": r.name in w._localrules} for r in w.rules}
    print("RULES=" + json.dumps({"rules": rules, "container": w.config["container"],
                                "invdn_repo": os.environ.get("INVDN_REPO")}))
"""


@pytest.fixture(scope="module")
def rules(tmp_path_factory) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SNAKEMAKE_")}
    done = subprocess.run([sys.executable, "-c", READ_RULES, str(REPO / "Snakefile"),
                           str(tmp_path_factory.mktemp("rules"))], env=env, capture_output=True, text=True, timeout=300)
    line = next((x for x in done.stdout.splitlines() if x.startswith("RULES=")), None)
    assert done.returncode == 0 and line, done.stderr[-3000:]
    return json.loads(line.removeprefix("RULES="))


def running(rules: dict) -> dict:
    return {name: r for name, r in rules["rules"].items() if r["runs"]}


def test_every_rule_names_the_conda_env_and_the_container(rules):
    jobs = running(rules)
    assert len(jobs) > 30
    for name, r in jobs.items():
        assert r["conda"], f"rule {name} has no conda env"
        assert (Path(r["snakefile"]).parent / r["conda"]).resolve() == ENV, f"rule {name}: {r['conda']}"
        assert r["container"] == rules["container"], f"rule {name}: container {r['container']}"
    base = yaml.safe_load((REPO / "workflow/config/base.yaml").read_text())
    assert rules["container"] == base["container"] == "containers/invdn-cpu.sif"


def test_the_env_installs_the_lock_file_and_the_checkout():
    env = yaml.safe_load(ENV.read_text())
    assert "python=3.11" in env["dependencies"] and "pip" in env["dependencies"]
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert pip == ["-r ${INVDN_REPO}/lock/requirements-cpu.txt", "-e ${INVDN_REPO}"]
    for dockerfile in ("Dockerfile.cpu", "Dockerfile.cuda"):
        text = (CONTAINERS / dockerfile).read_text()
        assert "COPY lock/requirements-cpu.txt lock/requirements-cpu.txt" in text and "pip install --no-deps -e ." in text
    if not LOCK.is_file():
        pytest.skip(f"{LOCK.relative_to(REPO)} is not in this checkout")
    pins = [line.split(" ")[0] for line in LOCK.read_text().splitlines() if re.match(r"[A-Za-z0-9]", line)]
    assert pins and all("==" in p for p in pins), [p for p in pins if "==" not in p]
    assert any(p.startswith("torch==") for p in pins)


def test_the_snakefile_sets_the_repository_the_env_file_reads(rules):
    """INVDN_REPO, which pip expands in the env file, is the repository: set while Snakemake parses."""
    assert rules["invdn_repo"] == str(REPO)


def test_every_job_has_memory_and_wall_time_and_training_and_evaluation_a_benchmark(rules):
    jobs = running(rules)
    for name, r in jobs.items():
        assert {"mem_mb", "runtime"} <= set(r["resources"]), f"rule {name}: {r['resources']}"
    benchmarked = {n for n, r in jobs.items() if r["benchmark"]}
    assert benchmarked == {n for n in jobs if n.startswith(("train", "evaluate"))}
    for name in benchmarked:
        assert jobs[name]["benchmark"].startswith("results/smoke/benchmarks/"), jobs[name]["benchmark"]


def test_tables_run_locally_and_models_do_not(rules):
    jobs = running(rules)
    local = {n for n, r in jobs.items() if r["local"]}
    assert {"table2", "cost_table", "mc_table", "table5", "ledger", "benchmark_table", "ablation_table",
            "ablation_curves", "pgap", "pgap_table", "mlflow_init"} <= local
    assert not local & {n for n in jobs if n.startswith(("train", "evaluate", "figure", "submit"))}


def test_snakemake_lint_is_clean(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("SNAKEMAKE_")}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    done = subprocess.run([sys.executable, "-m", "snakemake", "--lint", "--snakefile", str(REPO / "Snakefile"),
                           "--directory", str(tmp_path)], env=env, capture_output=True, text=True, timeout=300)
    out = done.stdout + done.stderr
    assert done.returncode == 0 and "Lints for" not in out, out[-4000:]
    assert "Congratulations, your workflow is in a good condition!" in out

"""The SLURM profile's submissions as snakemake-executor-plugin-slurm renders them, without a cluster.

The end-to-end tests run the real `snakemake --workflow-profile workflow/profiles/slurm` on the paper config with a
fake `sbatch` first on PATH: it records its arguments and refuses the job, so nothing runs and Snakemake is
stopped once the submissions are recorded (the plugin waits 40 s before its first status
check, which the test does not sit through). Fake sinfo/sacct/... stand in for the other SLURM commands the
plugin calls (default partition, account guess). The plan tests read the dry run of the whole paper DAG:
every job whose command runs on CUDA asks for a GPU, which the plugin submits as `--gpus=<n>`.
"""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from helpers import REPO

pytest.importorskip("snakemake_executor_plugin_slurm",
                    reason="the SLURM executor plugin is not installed: pip install -e '.[slurm]'")

PROFILE = REPO / "workflow" / "profiles" / "slurm"
PAPER = REPO / "workflow" / "config" / "presets" / "paper.yaml"
SMOKE = REPO / "workflow" / "config" / "presets" / "smoke.yaml"
SLURM_COMMANDS = ("sinfo", "squeue", "sacct", "sacctmgr", "sshare", "scontrol", "scancel", "srun")
FAKE_SBATCH = """#!{python}
import json, os, sys
with open(os.environ["FAKE_SBATCH_LOG"], "a") as f:
    f.write(json.dumps(sys.argv[1:]) + "\\n")
sys.exit("sbatch (fake): arguments recorded, job not submitted")
"""


@dataclass
class PlannedJob:
    rule: str
    inputs: list[str]
    outputs: list[str]
    resources: dict[str, str]
    shell: str


def snakemake_env(extra_path: Path | None = None) -> dict[str, str]:
    """This interpreter's environment without a cluster's or a user's Snakemake and MLflow settings."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SLURM_", "SNAKEMAKE_")) and k != "MLFLOW_TRACKING_URI"}
    path = [str(Path(sys.executable).parent), os.environ["PATH"]]
    env["PATH"] = os.pathsep.join(([str(extra_path)] if extra_path else []) + path)
    return env


def snakemake_args(workdir: Path, configs: tuple[Path, ...], *targets: str,
                   allowed_rules: tuple[str, ...] = ()) -> list[str]:
    # targets first: --configfile and --allowed-rules take every word that follows them
    allowed = ["--allowed-rules", *allowed_rules] if allowed_rules else []
    return [sys.executable, "-m", "snakemake", *targets, *allowed, "--snakefile", str(REPO / "Snakefile"),
            "--directory", str(workdir), "--workflow-profile", str(PROFILE), "--configfile", *map(str, configs)]


def dry_run(workdir: Path, config: Path, *targets: str) -> list[PlannedJob]:
    """The jobs of `snakemake -n -p` under the SLURM profile, in an empty working directory (nothing is done)."""
    workdir.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(snakemake_args(workdir, (config,), *targets) + ["-n", "-p"], cwd=workdir,
                          env=snakemake_env(), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    parts = re.split(r"^(?:local)?rule (\w+):$", done.stdout + done.stderr, flags=re.M)
    jobs = []
    for rule, body in zip(parts[1::2], parts[2::2]):
        def field(name: str) -> str:
            m = re.search(rf"^    {name}: (.*)$", body, re.M)
            return m.group(1) if m else ""

        shell = re.search(r"^Shell command: (.*)$", body, re.M)
        resources = dict(kv.split("=", 1) for kv in field("resources").split(", ") if "=" in kv)
        jobs.append(PlannedJob(rule, [p for p in field("input").split(", ") if p],
                               [p for p in field("output").split(", ") if p], resources,
                               shell.group(1) if shell else ""))
    assert jobs, f"no job found in the dry run's output:\n{done.stdout[-3000:]}"
    return jobs


@pytest.fixture(scope="module")
def paper_plan(tmp_path_factory) -> list[PlannedJob]:
    return dry_run(tmp_path_factory.mktemp("paper-plan"), PAPER, "all", "pgap_all", "submissions")


def one_job(plan: list[PlannedJob], rule: str) -> PlannedJob:
    jobs = [j for j in plan if j.rule == rule]
    assert len(jobs) == 1, f"expected one {rule} job in the paper plan, found {len(jobs)}"
    return jobs[0]


def fake_slurm(bin_dir: Path) -> None:
    bin_dir.mkdir()
    (bin_dir / "sbatch").write_text(FAKE_SBATCH.format(python=sys.executable))
    for name in SLURM_COMMANDS:  # no partition, no account, no jobs: the plugin's fallbacks
        (bin_dir / name).write_text("#!/bin/sh\nexit 0\n")
    for f in bin_dir.iterdir():
        f.chmod(0o755)


def recorded_submissions(log: Path) -> dict[str, list[str]]:
    """sbatch arguments by rule (the plugin's `--comment rule_<name>`), the first submission of each."""
    calls = {}
    if log.exists():
        for line in log.read_text().splitlines():
            args = json.loads(line)
            # the plugin's comment: rule_<name>, then _wildcards_<values> for a rule with wildcards
            rule = args[args.index("--comment") + 1].removeprefix("rule_").split("_wildcards_")[0]
            calls.setdefault(rule, args)
    return calls


def submit(tmp_path: Path, jobs: list[PlannedJob], configs: tuple[Path, ...] = (PAPER,)) -> dict[str, list[str]]:
    """Run the SLURM profile on these jobs alone (their inputs made up) until each one's sbatch call is recorded."""
    bin_dir, log, work = tmp_path / "bin", tmp_path / "sbatch.jsonl", tmp_path / "work"
    fake_slurm(bin_dir)
    for path in (Path(p) for job in jobs for p in job.inputs):
        if not path.is_absolute():  # the reference numbers are read from the repository
            (work / path).parent.mkdir(parents=True, exist_ok=True)
            (work / path).write_text("{}")
    work.mkdir(exist_ok=True)
    env = {**snakemake_env(bin_dir), "FAKE_SBATCH_LOG": str(log)}
    rules = tuple(job.rule for job in jobs)
    cmd = snakemake_args(work, configs, *(job.outputs[0] for job in jobs), allowed_rules=rules)
    with open(tmp_path / "snakemake.log", "w") as out:
        proc = subprocess.Popen(cmd, cwd=work, env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
        try:
            deadline = time.monotonic() + 120
            while proc.poll() is None and time.monotonic() < deadline:
                if set(rules) <= recorded_submissions(log).keys():
                    break
                time.sleep(0.2)
        finally:
            if proc.poll() is None:  # on SIGTERM Snakemake would wait out the plugin's 40 s
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
    calls = recorded_submissions(log)
    assert set(rules) <= calls.keys(), (f"sbatch calls recorded for {sorted(calls)}, expected {sorted(rules)}:\n"
                                        + (tmp_path / "snakemake.log").read_text()[-4000:])
    return calls


def option(args: list[str], name: str) -> str:
    """The value of `name value` or `name=value` in an sbatch argument list."""
    for i, arg in enumerate(args):
        if arg == name:
            return args[i + 1]
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
    raise AssertionError(f"{name} missing from sbatch {args[:-1]}")  # the last one is the long --wrap


def test_train_job_is_submitted_with_one_gpu_and_a_data_job_with_none(paper_plan, tmp_path):
    """Training: a GPU, and the profile's wall time and memory over the rule's. SIDD val's preparation (a
    CPU job submitted like any other, not upstream of training; tables are not submitted, see below): no
    GPU, the rule's own resources."""
    profile = yaml.safe_load((PROFILE / "config.yaml").read_text())
    check = one_job(paper_plan, "prepare_sidd_val")
    calls = submit(tmp_path, [one_job(paper_plan, "train"), check])

    train, cpu = calls["train"], calls["prepare_sidd_val"]
    assert option(train, "--gpus") == "1"
    assert option(train, "-t") == str(profile["set-resources"]["train"]["runtime"])
    assert option(train, "--mem") == str(profile["set-resources"]["train"]["mem_mb"])
    assert option(train, "--cpus-per-task") == str(profile["cores"])  # the rule's threads: all cores
    assert option(train, "--nodes") == "1"
    assert not [a for a in cpu if a.startswith(("--gpus", "--gres"))], cpu[:-1]
    assert "prepare_sidd_val" not in profile["set-resources"]  # so the rule's values are what sbatch gets
    assert option(cpu, "--ntasks") == "1" and option(cpu, "-t") == check.resources["runtime"]
    assert option(cpu, "--mem") == check.resources["mem_mb"]


def test_a_table_job_runs_on_the_submitting_host(tmp_path):
    """Tables are localrules (seconds of reading files each): under the SLURM profile Snakemake runs the
    cost table itself and calls sbatch for nothing (a submission would fail: the fake sbatch refuses)."""
    bin_dir, log, work = tmp_path / "bin", tmp_path / "sbatch.jsonl", tmp_path / "work"
    fake_slurm(bin_dir)
    work.mkdir()
    done = subprocess.run(snakemake_args(work, (PAPER,), "results/paper/tables/cost.csv"), cwd=work,
                          env={**snakemake_env(bin_dir), "FAKE_SBATCH_LOG": str(log)}, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert (work / "results/paper/tables/cost.csv").read_text().startswith("label,")
    assert not log.exists(), log.read_text()


def test_torchrun_training_job_is_submitted_with_a_gpu_per_process_on_one_node(paper_plan, tmp_path):
    overlay = tmp_path / "processes.yaml"
    overlay.write_text(yaml.safe_dump({"train": {"processes": 2}}))
    train = submit(tmp_path, [one_job(paper_plan, "train")], (PAPER, overlay))["train"]
    assert option(train, "--gpus") == "2" and option(train, "--nodes") == "1"


def test_every_job_that_runs_on_cuda_asks_for_a_gpu(paper_plan):
    """Training, evaluation, analysis and submissions of the paper config ask for a GPU; tables,
    data preparation and checks, MLflow's store and the classical baselines do not."""
    # a noise model's generate_pairs is passed --device but runs on the CPU
    missing = sorted({j.rule for j in paper_plan if "cuda" in j.shell and "--noise-model" not in j.shell
                      and int(j.resources.get("gpu", 0)) < 1})
    wasted = sorted({j.rule for j in paper_plan if "cuda" not in j.shell and int(j.resources.get("gpu", 0)) > 0})
    assert not missing, f"jobs running on cuda without `resources: gpu=` in their rule: {missing}"
    assert not wasted, f"jobs asking for a GPU they do not use: {wasted}"
    gpu_rules = {j.rule for j in paper_plan if int(j.resources.get("gpu", 0)) > 0}
    assert {"train", "train_baseline", "evaluate", "evaluate_network", "mc_sweep", "akld", "profile",
            "train_pgap", "evaluate_pgap", "train_ablation", "evaluate_ablation"} <= gpu_rules
    assert not gpu_rules & {"cost_table", "table2", "table5", "mc_table", "validate_train_data", "evaluate_classical",
                            "validate_val_data", "mlflow_init"}


def test_a_cpu_config_asks_for_no_gpu(tmp_path):
    """GPUs come from the rules (device cuda), not from the profile: the smoke config (CPU) asks for none."""
    plan = dry_run(tmp_path, SMOKE, "all", "pgap_all")
    assert {"train", "evaluate"} <= {j.rule for j in plan}
    assert not [j.rule for j in plan if int(j.resources.get("gpu", 0)) > 0]

"""Presets: composed over one base exactly as Snakemake plans them, and audited job by job.

The plan tests run `snakemake -n -p` on each shipped preset and read every planned training job's
effective settings from the command Snakemake would run (its --config-json), so they check what a
user's cluster would execute, not what a config file says.
"""
from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from invdn.config import ConfigError, validate_workflow
from invdn.pipeline import plan
from invdn.pipeline.audit import audit_all, audit_config, audit_preset, recipes, report
from invdn.pipeline.presets import compose, merge, preset_names

from helpers import REPO

RECIPE_PRESETS = ("paper", "official-code", "paddle")


def test_merge_merges_mappings_and_replaces_everything_else():
    base = {"a": {"x": 1, "y": [1, 2]}, "b": {"n": {"k": 1}}, "c": 3}
    out = merge(base, {"a": {"y": [3]}, "b": {"n": None}, "d": 4})
    assert out == {"a": {"x": 1, "y": [3]}, "b": {"n": None}, "c": 3, "d": 4}
    assert base["a"]["y"] == [1, 2]  # the base is not modified


def test_every_preset_composes_names_itself_and_is_valid():
    names = preset_names(REPO)
    assert set(RECIPE_PRESETS) | {"smoke"} <= set(names)
    for name in names:
        cfg = validate_workflow(compose(name, root=REPO), name)
        assert cfg["preset"] == name and cfg["name"] == name
        assert "seed" not in yaml.safe_load((REPO / "workflow/config/presets" / f"{name}.yaml").read_text()).get("train", {})


def test_the_default_preset_is_smoke_and_an_unknown_one_is_refused():
    assert compose(root=REPO)["name"] == "smoke"
    assert compose(overrides={"train": {"iterations": 7}}, root=REPO)["train"]["iterations"] == 7
    with pytest.raises(ConfigError, match="preset 'nope': .* not found; presets: official-code, paddle, paper"):
        compose("nope", root=REPO)


def _snakemake_plan(tmp_path: Path, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    result = subprocess.run(
        [sys.executable, "-m", "snakemake", "-n", "-p", "--snakefile", str(REPO / "Snakefile"), "--directory",
         str(tmp_path), "--cores", "8", *args], capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout + result.stderr


def _training_commands(out: str) -> list[tuple[dict, str]]:
    """(run config, whole command) of every planned `invdn train` (or torchrun) command."""
    found = []
    for line in out.splitlines():
        if " train --config-json " not in line:
            continue
        words = shlex.split(line.split(" > ", 1)[0])
        found.append((json.loads(words[words.index("--config-json") + 1]), line.removeprefix("Shell command: ")))
    return found


@pytest.mark.parametrize("preset", ["paper", "official-code", "paddle", "smoke"])
def test_snakemake_plans_exactly_the_composed_preset(tmp_path, preset):
    """The runs Snakemake would start are the audit's runs, each with its preset's own settings."""
    out = _snakemake_plan(tmp_path, "--configfile", str(REPO / "workflow/config/presets" / f"{preset}.yaml"))
    planned = _training_commands(out)
    config = validate_workflow(compose(preset, root=REPO))
    expected = [job.run for job in plan.training_jobs(config)]
    canon = lambda runs: sorted(json.dumps(r, sort_keys=True) for r in runs)  # noqa: E731
    assert canon(r for r, _ in planned) == canon(expected)
    for run, line in planned:
        assert run["scale"] == config["scale"] and run["data"] == config["data"]
        # threads: a smoke job gets 1 (job_threads), any other preset's every core Snakemake has
        assert line.startswith(f"INVDN_THREADS={config['job_threads'] or 8} ")
        if preset != "smoke":
            assert run["train"]["iterations"] >= config["train"]["iterations"], line[:300]
            assert run["train"]["device"] == "cuda"


def test_a_preset_file_given_twice_or_by_name_plans_the_same(tmp_path):
    by_file = _training_commands(_snakemake_plan(tmp_path, "--configfile", str(REPO / "workflow/config/presets/paper.yaml")))
    by_name = _training_commands(_snakemake_plan(tmp_path, "--config", "preset=paper"))
    assert sorted(json.dumps(r, sort_keys=True) for r, _ in by_file) == sorted(
        json.dumps(r, sort_keys=True) for r, _ in by_name)


def test_docs_presets_md_is_current():
    assert (REPO / "docs" / "presets.md").read_text() == report(audit_all(REPO)), (
        "docs/presets.md is stale: run `invdn presets audit --out docs/presets.md`")


@pytest.mark.parametrize("preset", RECIPE_PRESETS)
def test_recipe_presets_have_no_undeclared_deviation(preset):
    audit = audit_preset(preset, REPO)
    assert audit.follows == preset
    assert audit.undeclared == [], [(job, s.name, s.value, s.recipe) for job, s in audit.undeclared]
    assert audit.stale == []
    assert audit.jobs and all(s.status != "UNDECLARED" for j in audit.jobs for s in j.settings)


def test_no_paper_training_job_is_shorter_than_the_papers_schedule():
    audit = audit_preset("paper", REPO)
    assert audit.shorter_than_schedule() == []
    assert {next(s.value for s in j.settings if s.name == "train.iterations") for j in audit.jobs} == {600000}
    assert len(audit.jobs) == 17  # 1 main run, 13 grid variants (the main setting is the main run), 3 baselines


def test_smoke_declares_every_deviation_from_the_paper():
    audit = audit_preset("smoke", REPO)
    assert audit.undeclared == [] and audit.stale == []
    assert audit.declared and audit.shorter_than_schedule()  # its grid runs 10 steps, and says so


def test_the_audit_flags_an_undeclared_change_and_accepts_a_declared_one():
    recipe = recipes(REPO)["paper"]
    config = validate_workflow(compose("paper", {"train": {"lr": 1.0e-3}}, root=REPO))
    audit = audit_config(config, recipe, "paper")
    flagged = {(job, s.name) for job, s in audit.undeclared}
    assert flagged == {(j.label, "train.lr") for j in audit.jobs}  # every job, baselines too, runs that lr
    setting = next(s for s in audit.jobs[0].settings if s.name == "train.lr")
    assert setting.recipe == pytest.approx(2e-4) and setting.where.startswith("§4.2")
    declared = validate_workflow(compose("paper", {"train": {"lr": 1.0e-3}, "deviations": {"train.lr": "why"}},
                                         root=REPO))
    audit = audit_config(declared, recipe, "paper")
    assert audit.undeclared == [] and {s.reason for _, s in audit.declared} == {"why"}
    # a grid value is declared by the key it comes from, not by the main run's
    grid = validate_workflow(compose("paper", {"ablations": {"train": {"iterations": 5}}}, root=REPO))
    audit = audit_config(grid, recipe, "paper")
    assert {s.origin for _, s in audit.undeclared} == {"ablations.train.iterations"}
    assert len(audit.shorter_than_schedule()) == 14  # the 13 variants, and the main setting: no longer the main run


def test_audit_cli_check_fails_on_an_undeclared_deviation(tmp_path):
    from click.testing import CliRunner

    from invdn.cli import main

    root = tmp_path / "repo"
    (root / "workflow" / "config" / "presets").mkdir(parents=True)
    (root / "results").mkdir()
    (root / "results" / "reference_numbers.yaml").write_text((REPO / "results" / "reference_numbers.yaml").read_text())
    (root / "workflow" / "config" / "base.yaml").write_text((REPO / "workflow" / "config" / "base.yaml").read_text())
    paper = yaml.safe_load((REPO / "workflow" / "config" / "presets" / "paper.yaml").read_text())
    paper["train"] = {"batch_size": 28}
    (root / "workflow" / "config" / "presets" / "paper.yaml").write_text(yaml.safe_dump(paper))
    result = CliRunner().invoke(main, ["presets", "audit", "--root", str(root), "--check", "--out",
                                       str(tmp_path / "p.md")])
    assert result.exit_code == 1
    assert re.search(r"paper: train\[seed=0\]: train.step_batch = 28 differs from the recipe's 14", result.output)

"""Snakemake started from the project's environment without activating it: the rules still find the
`invdn` command (the workflow puts its environment's bin folder on PATH)."""
import os
import re
import subprocess
import sys

from invdn.pipeline import plan

from helpers import REPO


def test_rules_find_the_cli_without_an_activated_environment(tmp_path):
    env = {"HOME": os.environ.get("HOME", str(tmp_path)), "PATH": "/usr/bin:/bin",
           **({"PYTHONPATH": os.environ["PYTHONPATH"]} if "PYTHONPATH" in os.environ else {})}
    done = subprocess.run([sys.executable, "-m", "snakemake", "--cores", "1", "--snakefile", str(REPO / "Snakefile"),
                           "--directory", str(tmp_path), "results/smoke/tables/cost.csv"],
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert (tmp_path / "results" / "smoke" / "tables" / "cost.csv").read_text().startswith("label,")


def _dry_run(cwd, *args):
    env = {k: v for k, v in os.environ.items() if not k.startswith("SNAKEMAKE_") and k != "MLFLOW_TRACKING_URI"}
    env["PATH"] = f"{os.path.dirname(sys.executable)}{os.pathsep}{env['PATH']}"
    # the target first: --configfile takes every word that follows it
    target = plan.Paths("paper").model.format(seed=0)
    done = subprocess.run([sys.executable, "-m", "snakemake", target, "-n", "--cores", "2", *args, "--snakefile",
                           str(REPO / "Snakefile"), "--directory", str(cwd), "--configfile",
                           str(REPO / "workflow/config/presets/paper.yaml"), str(cwd / "processes.yaml")],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout + done.stderr


def test_a_plain_snakemake_reads_the_default_profile(tmp_path):
    """No profile named: Snakemake reads profiles/default beside the Snakefile. Its printshellcmds shows
    each command in a dry run (no -p given), and its GPU cap (gpu=1) lowers a 2-process training's
    request to 1; `--workflow-profile none` gives neither."""
    (tmp_path / "processes.yaml").write_text("train: {processes: 2}\n")
    default = _dry_run(tmp_path)
    assert f"Using workflow specific profile {REPO / 'profiles' / 'default'}" in default
    assert re.search(r"^Shell command: .*torchrun --standalone --nproc_per_node 2 .* train ", default, re.M), default[-2000:]
    assert re.search(r"^    resources: .*\bgpu=1\b", default, re.M), default[-2000:]

    bare = _dry_run(tmp_path, "--workflow-profile", "none")
    assert "workflow specific profile" not in bare
    assert "Shell command:" not in bare  # no command shown without printshellcmds
    assert re.search(r"^    resources: .*\bgpu=2\b", bare, re.M), bare[-2000:]

"""Snakemake started from the project's environment without activating it: the rules still find the
`invdn` command (the workflow puts its environment's bin folder on PATH)."""
import os
import subprocess
import sys

from helpers import REPO


def test_rules_find_the_cli_without_an_activated_environment(tmp_path):
    env = {"HOME": os.environ.get("HOME", str(tmp_path)), "PATH": "/usr/bin:/bin",
           **({"PYTHONPATH": os.environ["PYTHONPATH"]} if "PYTHONPATH" in os.environ else {})}
    done = subprocess.run([sys.executable, "-m", "snakemake", "--cores", "1", "--snakefile", str(REPO / "Snakefile"),
                           "--directory", str(tmp_path), "results/smoke/tables/cost.csv"],
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert (tmp_path / "results" / "smoke" / "tables" / "cost.csv").read_text().startswith("label,")

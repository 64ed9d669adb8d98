"""``invdn runs uri``: the store the workflow's commands write to, which `make ui` opens."""
import subprocess

import yaml
from click.testing import CliRunner

from invdn.cli import main
from invdn.tracking import tracking_uri

from helpers import REPO

BASE = REPO / "workflow" / "config" / "base.yaml"
SMOKE = REPO / "workflow" / "config" / "presets" / "smoke.yaml"


def uri(*configs):
    args = ["runs", "uri"]
    for c in configs:
        args += ["--config", str(c)]
    return CliRunner().invoke(main, args)


def test_prints_the_configured_store_and_a_later_config_wins(tmp_path, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    base = yaml.safe_load(BASE.read_text())["mlflow"]["tracking_uri"]
    r = uri(BASE, SMOKE)  # the smoke preset keeps the base's store
    assert r.exit_code == 0, r.output
    assert r.output == base + "\n"
    team = tmp_path / "team.yaml"
    team.write_text(yaml.safe_dump({"mlflow": {"tracking_uri": "http://mlflow.example:5000"}}))
    assert uri(BASE, team).output == "http://mlflow.example:5000\n"
    assert uri(team, SMOKE).output == "http://mlflow.example:5000\n"  # a config without the key keeps it
    other = tmp_path / "other.yaml"
    other.write_text(yaml.safe_dump({"mlflow": {"tracking_uri": f"sqlite:///{tmp_path}/other.db"}}))
    assert uri(team, other).output == f"sqlite:///{tmp_path}/other.db\n"


def test_resolves_the_environment_as_every_command_does(monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "sqlite:////elsewhere/mlflow.db")
    configured = yaml.safe_load(BASE.read_text())["mlflow"]["tracking_uri"]
    assert uri(BASE).output == tracking_uri(configured) + "\n"
    assert uri().output == tracking_uri(None) + "\n" == "sqlite:////elsewhere/mlflow.db\n"


def test_bad_configs_name_the_file(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("mlflow: 3\n")
    r = uri(bad)
    assert r.exit_code == 2 and f"{bad}: mlflow must be a mapping with a string tracking_uri" in r.output
    r = uri(tmp_path / "missing.yaml")
    assert r.exit_code != 0 and "missing.yaml: config file not found" in r.output and "Traceback" not in r.output


def test_make_ui_opens_the_resolved_store():
    plan = subprocess.run(["make", "-n", "ui", "CONFIG=my.yaml"], cwd=REPO, capture_output=True, text=True, check=True)
    assert "invdn runs uri --config workflow/config/base.yaml --config my.yaml" in plan.stdout
    assert 'mlflow ui --backend-store-uri "$uri"' in plan.stdout and "sqlite:///results" not in plan.stdout

# Config validation, paths and input functions shared by the rules.
import hashlib
import json
import shlex
import sys
from pathlib import Path

from snakemake.utils import validate

validate(config, "../schemas/config.schema.yaml", set_default=True)

NAME = config["name"]
SEED = config["train"]["seed"]
RUN = f"{NAME}/seed{SEED}"
REFERENCE = str(Path(workflow.basedir) / "results" / "reference_numbers.yaml")
MLFLOW_MARKER = "results/mlflow/initialized.json"
MLFLOW = f"--tracking-uri {shlex.quote(config['mlflow']['tracking_uri'])} --experiment {shlex.quote(config['mlflow']['experiment'])}"


def code_version(*parts):
    """Hash of the package sources a rule depends on: editing model code retrains, not reuses."""
    h = hashlib.sha256()
    root = Path(workflow.basedir) / "invdn"
    for part in parts:  # parts are relative to invdn/ ("../baselines" for the baselines package)
        for f in sorted((root / part).rglob("*.py")) if (root / part).is_dir() else [root / part]:
            h.update(f.read_bytes())
    return h.hexdigest()[:12]


TRAIN_CODE = code_version("models", "data", "losses.py", "train.py", "ensembles.py", "metrics")
EVAL_CODE = code_version("models", "data", "ensembles.py", "metrics", "evaluate.py", "profile.py", "stats.py")
ANALYSIS_CODE = code_version("models", "data", "ensembles.py", "metrics", "stats.py", "mc_sweep.py", "generate.py",
                             "figures.py")
COST_CODE = code_version("models", "profile.py", "tables.py")


def data_files(key, sub_dirs):
    """The images of a data folder as inputs, so edits to the data rerun what depends on it.

    A folder that does not exist yet (SIDD not downloaded) gives no inputs, so `snakemake -n`
    still plans; the validate_data job then fails with a message naming the folder.
    """
    root = Path(config["data"][key])
    if not root.is_dir():
        return []
    return sorted(str(p) for sub in sub_dirs if (root / sub).is_dir() for p in (root / sub).iterdir() if p.is_file())


def train_config_json():
    """What `invdn train` receives: only the sections that shape the model, so that changing
    an evaluation setting does not retrain."""
    keys = ("name", "scale", "data", "model", "train")
    return shlex.quote(json.dumps({k: config[k] for k in keys}, sort_keys=True))


def eval_modes():
    return config["evaluate"]["modes"]


def mc_samples(wildcards):
    return config["evaluate"]["mc_samples"] if wildcards.mode in ("mc", "x8_mc") else 1


def gpus():
    return 1 if config["train"]["device"].startswith("cuda") else 0


def all_targets():
    return ["results/tables/table2.tex", "results/tables/cost.tex", "results/tables/mc.tex",
            "results/tables/table5.tex"]

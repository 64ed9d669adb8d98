# Config validation, paths and input functions shared by the rules.
import hashlib
import importlib.util
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
TABLE_CODE = code_version("tables.py", "ablations.py")
BASELINE_TRAIN_CODE = code_version("data", "losses.py", "train.py", "metrics", "../baselines")
BASELINE_EVAL_CODE = code_version("data", "metrics", "evaluate.py", "stats.py", "generate.py", "../baselines")


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


def classical_baselines():
    """The configured classical baselines; bm3d (an optional package) dropped with a message when absent."""
    names = list(config["baselines"]["classical"])
    if "bm3d" in names and importlib.util.find_spec("bm3d") is None:
        print("invdn-repro: skipping the bm3d baseline: the optional `bm3d` package (non-commercial licence) "
              "is not installed; pip install -e '.[bm3d]' to run it", file=sys.stderr)
        names.remove("bm3d")
    return names


def baseline_networks():
    return list(config["baselines"]["networks"])


def baseline_model(wildcards):
    """A learned baseline's model file as the `model` input of its evaluation; nothing for classical ones."""
    if wildcards.method in baseline_networks():
        return {"model": f"results/train/baselines/{NAME}/{wildcards.method}/seed{SEED}/model.pt"}
    return {}


def baseline_processes(wildcards):
    """train.processes of a learned baseline's run (InvDN's, unless its overrides set it)."""
    return baseline_run_config(wildcards)["train"].get("processes", 1)


def ablation_processes(wildcards):
    """train.processes of a grid variant's run."""
    return ablation_run_config(config, VARIANTS[wildcards.variant])["train"].get("processes", 1)


def baseline_run_config(wildcards):
    """What `invdn train` receives for a learned baseline: InvDN's data and train sections (with the
    baselines.train overrides) and the network as the model section."""
    network = dict(config["baselines"]["networks"][wildcards.network])
    train = {**config["train"], **config["baselines"]["train"], **network.pop("train", {})}
    if network["network"] == "blind_spot":  # noisy images only: no augmentation that uses the clean image
        train["noise_gain_max"] = 1.0
    raw = {"name": f"{NAME}-{wildcards.network}", "scale": config["scale"], "data": config["data"],
           "model": network, "train": train}
    return raw


def baseline_config_json(wildcards):
    return shlex.quote(json.dumps(baseline_run_config(wildcards), sort_keys=True))


def baseline_metrics():
    return expand(f"results/eval/baselines/{NAME}/{{method}}.json", method=classical_baselines() + baseline_networks())


def akld_files():
    """Table 5's measured rows: InvDN's generator, then each configured noise model."""
    return [f"results/analysis/{RUN}/akld.json"] + expand(
        f"results/analysis/noise_models/{NAME}/{{noise_model}}/akld.json", noise_model=config["baselines"]["noise_models"])


def eval_modes():
    return config["evaluate"]["modes"]


def mc_samples(wildcards):
    return config["evaluate"]["mc_samples"] if wildcards.mode in ("mc", "x8_mc") else 1


def gpus():
    return 1 if config["train"]["device"].startswith("cuda") else 0


def train_launcher(processes):
    """The command that starts `invdn train` for a run of ``processes`` processes (train.processes):
    torchrun with one process per GPU (invdn.distributed), or the plain command."""
    return f"torchrun --standalone --nproc_per_node {processes} -m invdn.cli" if processes > 1 else "invdn"


def threads_per_process(processes):
    """Shell arithmetic giving each of ``processes`` processes its share of the job's threads (at least 1);
    ``processes`` is a number or a shell-command placeholder such as "{params.processes}"."""
    return f"$(( {{threads}} / {processes} > 1 ? {{threads}} / {processes} : 1 ))"


def all_targets():
    return ["results/tables/table2.tex", "results/tables/cost.tex", "results/tables/mc.tex",
            "results/tables/table5.tex", f"results/figures/{NAME}/latent_pca.png",
            f"results/figures/{NAME}/gallery.png"] + ablation_targets()


# The ablation grid (invdn/ablations.py): study -> variants, each trained and evaluated once.
from invdn.ablations import STUDY_TITLES, all_variants, base_settings, expand as expand_ablations, is_main_run, variant_name
from invdn.ablations import label as ablation_label, run_config as ablation_run_config

ABLATIONS = expand_ablations(config["ablations"], config["model"], config["train"])
VARIANTS = {v.name: v for v in all_variants(ABLATIONS)}
MAIN_VARIANT = variant_name(base_settings(config["model"], config["train"]))  # the main architecture's grid name


def job_threads():
    """Threads of a training, evaluation or analysis job: config job_threads, or every core."""
    return config["job_threads"] or workflow.cores


def ablation_config_json(wildcards):
    return shlex.quote(json.dumps(ablation_run_config(config, VARIANTS[wildcards.variant]), sort_keys=True))


def ablation_model_path(variant):
    """The model of a grid variant: the main run's when the variant is the main run, else its own."""
    if is_main_run(config, VARIANTS[variant]):
        return f"results/train/{RUN}/model.pt"
    return f"results/train/{NAME}/ablations/{variant}/seed{SEED}/model.pt"


def ablation_metrics_path(variant):
    """The single-draw metrics of a grid variant (the main run's evaluation when it is the main run)."""
    if is_main_run(config, VARIANTS[variant]) and "single" in eval_modes() and not config["ablations"]["val_images"]:
        return f"results/eval/{RUN}/single.json"
    return f"results/eval/{NAME}/ablations/{variant}/single.json"


def ablation_targets():
    """Every configured study's table and training-curve figure."""
    out = []
    for study in ABLATIONS:
        out += [f"results/tables/{study}.tex", f"results/figures/{NAME}/{study}_curves.png"]
    return out

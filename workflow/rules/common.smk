# Config validation, paths, run configs and commands shared by the rules. The plan itself (which runs,
# which seeds, what each run receives, each stage's command) lives in invdn.pipeline, where the audit
# (`invdn presets audit`) and the tests read the same functions.
import importlib.util
import inspect
import os
import shutil
import shlex
import sys
from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

from invdn.inference.config import InferenceConfig
from invdn.pipeline import commands as C
from invdn.pipeline import plan
from invdn.pipeline.codeversion import code_version as _code_version

# The rules run the `invdn` command of the environment Snakemake runs in (it imports invdn above):
# `.venv/bin/snakemake` works without activating the venv, and a missing command fails here, at once.
if shutil.which("invdn") is None:
    if not (Path(sys.executable).parent / "invdn").is_file():
        raise WorkflowError(f"the `invdn` command is not installed beside {sys.executable}; run `make install` "
                            "(or `pip install -e .` in this environment) and start Snakemake from that environment")
    # (set, not read: the linter's envvars check, for variables a user must supply, does not apply; it
    # matches os.environ[...], hence update())
    os.environ.update(PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")

# workflow/envs/invdn.yaml installs the lock file and this checkout from ${INVDN_REPO} (pip expands it):
# Snakemake creates conda envs from a copy of the file under .snakemake/conda/, so it cannot use a
# relative path. Set, not read: hence update(), as above.
os.environ.update(INVDN_REPO=str(Path(workflow.basedir)))

if "seed" in (config.get("train") or {}):
    raise WorkflowError(
        f"train.seed {config['train']['seed']!r}: the workflow trains one run per seed of train.seeds; "
        f"write train.seeds: [{config['train']['seed']}]"
    )
validate(config, "../schemas/config.schema.yaml", set_default=True)

NAME = config["name"]
P = plan.Paths(NAME)
SEEDS = plan.main_seeds(config)
FIRST_SEED = SEEDS[0] if SEEDS else None  # the model of the figures, profile and submissions
REFERENCE = str(Path(workflow.basedir) / "results" / "reference_numbers.yaml")
CLAIMS = str(Path(workflow.basedir) / "results" / "claims.yaml")
MLFLOW = C.mlflow_options(config)
TRACKING_URI = config["mlflow"]["tracking_uri"]
EVAL = config["evaluate"]


def code_version(*modules):
    """Hash of the project modules a stage imports, transitively (invdn.pipeline.codeversion): editing any
    of them reruns the stage's jobs, editing anything else reruns nothing."""
    return _code_version(tuple(modules), workflow.basedir)


# The task each stage's command calls (invdn.tasks.*: the command line only parses options, and
# every rule passes its settings explicitly), and the plugins a baseline stage loads through the
# registry (an entry point, which the import closure cannot see); the closure adds the rest.
TRAIN_CODE = code_version("invdn.tasks.train")
EVAL_CODE = code_version("invdn.tasks.evaluate")
ANALYSIS_CODE = code_version("invdn.tasks.analysis")
FIGURE_CODE = code_version("invdn.tasks.figures")
COST_CODE = code_version("invdn.reporting.tables", "invdn.analysis.cost")
TABLE_CODE = code_version("invdn.reporting.tables", "invdn.config.ablations")
LEDGER_CODE = code_version("invdn.reporting.ledger")
BENCHMARK_CODE = code_version("invdn.reporting.benchmarks")
BASELINE_TRAIN_CODE = code_version("invdn.tasks.train", "baselines")
BASELINE_EVAL_CODE = code_version("invdn.tasks.evaluate", "invdn.tasks.analysis", "baselines")


# Memory (MB) and wall time (minutes) of each stage's jobs: what a SLURM job asks sbatch for (--mem, -t;
# the profile's set-resources may override them rule by rule) and what `--resources mem_mb=N` counts on
# one machine. Sized for the paper config on one GPU (600k training steps take about 3 days); a smaller
# config asks for the same. Tables and figures from files run on the submitting host (localrules).
RESOURCES = {
    "train": {"mem_mb": 32000, "runtime": 4320},
    "evaluate": {"mem_mb": 16000, "runtime": 240},  # evaluation, the profile and benchmark submissions
    "analysis": {"mem_mb": 16000, "runtime": 240},  # MC sweep, AKLD, generated pairs, model figures
    "data": {"mem_mb": 8000, "runtime": 240},       # data checks and preparation
    "table": {"mem_mb": 2000, "runtime": 30},       # tables, curves, PGap, the MLflow store
}


class _Files:
    """Stands in for a job's input or output in :func:`command`: each file is named by its key."""

    def __init__(self, kind):
        self._kind = kind

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return f"<{self._kind}.{name}>"

    def __getitem__(self, index):
        return f"<{self._kind}[{index}]>"

    def __iter__(self):  # all files at once (without it, iteration would index on forever)
        return iter([f"<{self._kind}>"])

    def __len__(self):
        return 1

    def keys(self):  # every name is taken to be there: the settings only need to be the same each time
        return _Everything()

    def get(self, name, default=None):
        return getattr(self, name)


class _Everything:
    def __contains__(self, item):
        return True


def command(build):
    """A rule's params from its command builder ``build`` (a function of wildcards and, as needed,
    input and output): ``cmd``, the command itself, and ``settings``, the same command with every file
    replaced by a placeholder. Snakemake leaves params that read input or output out of its params
    trigger, so ``settings`` (a function of the wildcards only) is what it compares: a changed setting
    or code version in the command reruns the job, and the reason shows the two commands."""
    names = inspect.signature(build).parameters

    def settings(wildcards):
        given = {"wildcards": wildcards, "input": _Files("input"), "output": _Files("output")}
        return build(**{n: given[n] for n in names})

    return {"cmd": build, "settings": settings}


def data_files(key, sub_dirs):
    """The images of a data folder as inputs, so edits to the data rerun what depends on it.

    A folder that does not exist yet (SIDD not downloaded) gives no inputs, so `snakemake -n`
    still plans; the validate_data job then fails with a message naming the folder.
    """
    root = Path(config["data"][key])
    if not root.is_dir():
        return []
    return sorted(str(p) for sub in sub_dirs if (root / sub).is_dir() for p in (root / sub).iterdir() if p.is_file())


def on_gpu(device):
    """1 when ``device`` is a CUDA device (the rule asks for a GPU), else 0."""
    return 1 if str(device).startswith("cuda") else 0


def classical_baselines():
    """The configured classical baselines; bm3d (an optional package) dropped with a message when absent."""
    names = list(config["baselines"]["classical"])
    if "bm3d" in names and importlib.util.find_spec("bm3d") is None:
        print("invdn-repro: skipping the bm3d baseline: the optional `bm3d` package (non-commercial licence) "
              "is not installed; pip install -e '.[bm3d]' to run it", file=sys.stderr)
        names.remove("bm3d")
    return names


CLASSICAL = classical_baselines()  # once: its message is printed once


NETWORKS = plan.networks(config)
VARIANTS = plan.variants(config)
STUDIES = plan.studies(config)
MAIN_VARIANT = plan.main_variant(config)
RELEASED = {k: v for k, v in config["released"]["weights"].items() if v}


def inference(mode="single", section="evaluate"):
    """The InferenceConfig of an evaluation in ``mode`` (draws from ``section``: evaluate or released)."""
    return InferenceConfig(mode, config[section]["mc_samples"], EVAL["seed"], EVAL["device"], EVAL["precision"],
                           EVAL["noise_eps"])


def job(rule, wildcards=None, code=None):
    """How a job's command records itself (C.Job): the MLflow options, its rule, wildcards and code version."""
    return C.Job(MLFLOW, rule, dict(wildcards.items()) if wildcards is not None else {}, code)


def job_threads():
    """Threads of a training, evaluation or analysis job: config job_threads, or every core."""
    return config["job_threads"] or workflow.cores


def main_models():
    return expand(P.model, seed=SEEDS)


def main_metrics():
    """Every main-run evaluation: each mode of each seed."""
    return expand(P.eval, seed=SEEDS, mode=EVAL["modes"])


def baseline_metrics():
    """The classical baselines' metrics, then each learned baseline's per seed."""
    out = expand(P.classical_eval, method=CLASSICAL)
    for network in NETWORKS:
        out += expand(P.network_eval, network=network, seed=plan.baseline_seeds(config, network))
    return out


def released_metrics():
    return expand(P.released_eval, weights=list(RELEASED), mode=config["released"]["modes"])


def akld_files():
    """Table 5's measured rows: InvDN's generator per seed, then each configured noise model."""
    return expand(f"{P.analysis}/akld.json", seed=SEEDS) + expand(
        P.noise_model_akld, noise_model=config["baselines"]["noise_models"])


def ablation_model_path(variant, seed):
    """The model of a grid variant and seed: the main run's when the variant is the main run."""
    if plan.is_main_run(config, VARIANTS[variant], int(seed)):
        return P.model.format(seed=seed)
    return P.ablation_model.format(variant=variant, seed=seed)


def ablation_metrics_path(variant, seed):
    """The single-draw metrics of a grid variant and seed (the main run's evaluation when it is the
    main run and scored on the same images)."""
    if (plan.is_main_run(config, VARIANTS[variant], int(seed)) and "single" in EVAL["modes"]
            and not config["ablations"]["val_images"]):
        return P.eval.format(seed=seed, mode="single")
    return P.ablation_eval.format(variant=variant, seed=seed)


def table_path(name, suffix="tex"):
    return f"{P.tables}/{name}.{suffix}"


def all_targets():
    """What `snakemake` builds by default: every configured table and figure, and the best main-seed
    model in the MLflow Model Registry."""
    out = [table_path("table2"), table_path("cost")]
    if SEEDS:
        out += [table_path("mc"), f"{P.figures}/latent_pca.png", f"{P.figures}/gallery.jpg", P.registered]
    if SEEDS or config["baselines"]["noise_models"]:
        out.append(table_path("table5"))
    for study in STUDIES:
        out += [table_path(study), f"{P.figures}/{study}_curves.png"]
    out.append(ledger_path("md"))
    if benchmark_files():
        out.append(table_path("benchmarks"))
    # released weights: their benchmark submissions too (a trained model's: target `submissions`)
    return out + [t for t in submission_targets(quiet=True) if "/released/" in t]


def benchmark_files():
    """The benchmark TSVs of every training and evaluation job the default target runs (P.benchmark of
    each job's output): the inputs of the benchmark table."""
    outputs = main_models() + main_metrics() + released_metrics() + baseline_metrics()
    outputs += [P.baseline_model.format(network=n, seed=s) for n in NETWORKS for s in plan.baseline_seeds(config, n)]
    for study in STUDIES:
        for variant in STUDIES[study]:
            for seed in plan.ablation_seeds(config):
                outputs += [ablation_model_path(variant.name, seed), ablation_metrics_path(variant.name, seed)]
    return [P.benchmark(p) for p in dict.fromkeys(outputs)]


def ledger_tables():
    """The table CSVs the claims ledger reads: every table this preset writes (the ledger rule's inputs)."""
    return [p.replace(".tex", ".csv") for p in all_tables()]


def all_tables():
    out = [table_path("table2"), table_path("cost")]
    if SEEDS:
        out.append(table_path("mc"))
    if SEEDS or config["baselines"]["noise_models"]:
        out.append(table_path("table5"))
    return out + [table_path(study) for study in STUDIES]


def ledger_path(suffix):
    return f"{Path(P.tables).parent}/ledger.{suffix}"

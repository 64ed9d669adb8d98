# Input functions, run configs and targets of the stage rules (the rule files hold rules only). Each
# group is the stage of the rule file it serves; what every stage shares is in common.smk.

# --- datasets.smk

def dataset(key):
    return (config.get("datasets") or {}).get(key)


def if_present(key):
    """The configured download as an input when it exists; else none, so that `snakemake -n` still
    plans before the download and the job itself reports the missing path."""
    path = dataset(key)
    return [path] if path and Path(path).exists() else []


def prepared(folder_key):
    """The preparation marker of data.<folder_key> when a download is configured to fill it."""
    if folder_key == "train" and dataset("sidd_medium"):
        return [f"{config['data']['train']}/manifest.sha256"]  # written last, after every patch
    if folder_key == "val" and dataset("sidd_val_noisy") and dataset("sidd_val_gt"):
        return [f"{config['data']['val']}/prepare.json"]
    return []


def submission_targets(quiet=False):
    """The submission bundles of every configured benchmark, for the first seed's model and each set of
    released weights; a benchmark that is not configured is skipped (with a message unless ``quiet``)."""
    models = ([f"seed{FIRST_SEED}"] if SEEDS else []) + [f"released/{w}" for w in RELEASED]
    targets = []
    for key, bench, what in (("sidd_benchmark", "sidd", "SIDD benchmark submission"), ("dnd", "dnd", "DND submission")):
        if dataset(key):
            targets += [f"{P.submission}/{m}/{bench}/submission.zip" for m in models]
        elif not quiet:
            print(f"datasets.{key} is not configured: {what} skipped (set it to the downloaded file or folder)",
                  file=sys.stderr)
    return targets


def submission_weights(wildcards):
    """The weights a submission is made from: a seed's model or released weights."""
    if wildcards.model.startswith("released/"):
        return RELEASED[wildcards.model.removeprefix("released/")]
    return P.model.format(seed=wildcards.model.removeprefix("seed"))


def submission_model(wildcards):
    """submission_weights as an input; released weights not downloaded yet are no input (the job reports them)."""
    path = submission_weights(wildcards)
    return path if Path(path).exists() or not wildcards.model.startswith("released/") else []


def submission_inference(wildcards):
    """The MC self-ensemble of the model's section: released.mc_samples for released weights, else evaluate's."""
    return inference("mc", "released" if wildcards.model.startswith("released/") else "evaluate")


# --- released.smk

def released_file(wildcards):
    """The weights file as an input when it exists; else none, so that `snakemake -n` plans before the
    download and the job itself reports the missing file."""
    path = RELEASED[wildcards.weights]
    return [path] if Path(path).exists() else []


# --- baselines.smk

def baseline_run(wildcards):
    return plan.baseline_run(config, wildcards.network, int(wildcards.seed))


# --- pgap.smk

def pgap_source(wildcards):
    """InvDN's generator needs the trained model; a noise model needs nothing but the data."""
    return {"model": P.model.format(seed=wildcards.seed)} if wildcards.generator == "invdn" else {}


# --- ablations.smk

def study_variants(wildcards):
    return [v.name for v in STUDIES[wildcards.study]]


def ablation_run(wildcards):
    return plan.ablation_run(config, VARIANTS[wildcards.variant], int(wildcards.seed))


def curve_labels(wildcards, models):
    """{legend label: model file} of a study's curves (the seed in the label when there are several)."""
    seeds = plan.ablation_seeds(config)
    pairs = [(v, s) for v in study_variants(wildcards) for s in seeds]
    return {plan.study_label(wildcards.study, VARIANTS[v]) + (f" (seed {s})" if len(seeds) > 1 else ""): m
            for (v, s), m in zip(pairs, models)}


def study_files(wildcards, path):
    """``path(variant, seed)`` for every variant of the study and every grid seed."""
    return [path(v, s) for v in study_variants(wildcards) for s in plan.ablation_seeds(config)]


# --- mlflow.smk

def registry_metrics():
    """The evaluations that pick the registered model: each main seed's, in the first configured mode."""
    return expand(P.eval, seed=SEEDS, mode=EVAL["modes"][:1])

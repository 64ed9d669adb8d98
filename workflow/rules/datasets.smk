# The official SIDD and DND downloads: preparation into the training / val folders, and the files
# the benchmark servers accept. Each dataset is optional (config `datasets`); one that is not
# configured is skipped with a message, and the bundled data (data.train / data.val) are used.


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


rule prepare_sidd_medium:
    input:
        lambda wildcards: if_present("sidd_medium"),
    output:
        f"{config['data']['train']}/manifest.sha256",
    log:
        f"{P.logs}/data/prepare_sidd_medium.log",
    params:
        **command(lambda wildcards: C.prepare_sidd_medium(
            dataset("sidd_medium"), config["data"]["train"], dataset("patch") or 512, dataset("per_image") or 100,
            dataset("stride"), dataset("seed") or 0)),
    threads: workflow.cores
    shell:
        "INVDN_THREADS={threads} {params.cmd} > {log} 2>&1"


rule prepare_sidd_val:
    input:
        lambda wildcards: if_present("sidd_val_noisy") + if_present("sidd_val_gt"),
    output:
        f"{config['data']['val']}/prepare.json",
    log:
        f"{P.logs}/data/prepare_sidd_val.log",
    params:
        **command(lambda wildcards: C.prepare_sidd_val(dataset("sidd_val_noisy"), dataset("sidd_val_gt"), config["data"]["val"])),
    shell:
        "{params.cmd} > {log} 2>&1"


def submission_inference(wildcards):
    """The MC self-ensemble of the model's section: released.mc_samples for released weights, else evaluate's."""
    return inference("mc", "released" if wildcards.model.startswith("released/") else "evaluate")


rule submit_sidd:
    input:
        model=submission_model,
        bench=lambda wildcards: if_present("sidd_benchmark"),
    output:
        mat=f"{P.submission}/{{model}}/sidd/SubmitSrgb.mat",
        zip=f"{P.submission}/{{model}}/sidd/submission.zip",
    log:
        f"{P.logs}/submission/{{model}}/sidd.log",
    params:
        **command(lambda wildcards, output: C.submit_sidd(
            submission_weights(wildcards), dataset("sidd_benchmark"), config["datasets"]["sidd_grid"],
            submission_inference(wildcards), str(Path(output.zip).parent))),
    wildcard_constraints:
        model=r"seed\d+|released/[A-Za-z0-9_.-]+",
    resources:
        gpu=on_gpu(EVAL["device"]),
    threads: workflow.cores
    shell:
        "INVDN_THREADS={threads} {params.cmd} > {log} 2>&1"


rule submit_dnd:
    input:
        model=submission_model,
        root=lambda wildcards: if_present("dnd"),
    output:
        zip=f"{P.submission}/{{model}}/dnd/submission.zip",
    log:
        f"{P.logs}/submission/{{model}}/dnd.log",
    params:
        **command(lambda wildcards, output: C.submit_dnd(
            submission_weights(wildcards), dataset("dnd"), config["datasets"]["dnd_images"],
            submission_inference(wildcards), str(Path(output.zip).parent))),
    wildcard_constraints:
        model=r"seed\d+|released/[A-Za-z0-9_.-]+",
    resources:
        gpu=on_gpu(EVAL["device"]),
    threads: workflow.cores
    shell:
        "INVDN_THREADS={threads} {params.cmd} > {log} 2>&1"


rule submissions:
    input:
        lambda wildcards: submission_targets(),

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


def submission_model(wildcards):
    """The weights a submission is made from: a seed's model or released weights."""
    if wildcards.model.startswith("released/"):
        path = RELEASED[wildcards.model.removeprefix("released/")]
        return path if Path(path).exists() else []  # the job reports a missing download
    return P.model.format(seed=wildcards.model.removeprefix("seed"))


rule prepare_sidd_medium:
    input:
        lambda wildcards: if_present("sidd_medium"),
    output:
        f"{config['data']['train']}/manifest.sha256",
    log:
        "logs/data/prepare_sidd_medium.log",
    params:
        root=lambda wildcards: dataset("sidd_medium"),
        out=config["data"]["train"],
        patch=lambda wildcards: dataset("patch") or 512,
        per_image=lambda wildcards: dataset("per_image") or 100,
        stride=lambda wildcards: f"--stride {dataset('stride')}" if dataset("stride") else "",
        seed=lambda wildcards: dataset("seed") or 0,
    threads: workflow.cores
    shell:
        "invdn prepare sidd-medium --root {params.root:q} --out {params.out:q} --patch {params.patch} "
        "--per-image {params.per_image} {params.stride} --seed {params.seed} --workers {threads} "
        "--no-progress > {log} 2>&1"


rule prepare_sidd_val:
    input:
        lambda wildcards: if_present("sidd_val_noisy") + if_present("sidd_val_gt"),
    output:
        f"{config['data']['val']}/prepare.json",
    log:
        "logs/data/prepare_sidd_val.log",
    params:
        noisy=lambda wildcards: dataset("sidd_val_noisy"),
        gt=lambda wildcards: dataset("sidd_val_gt"),
        out=config["data"]["val"],
    shell:
        "invdn prepare sidd-val --noisy {params.noisy:q} --gt {params.gt:q} --out {params.out:q} > {log} 2>&1"


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
        bench=lambda wildcards: dataset("sidd_benchmark"),
        grid=lambda wildcards: ",".join(map(str, config["datasets"]["sidd_grid"])),
        model=lambda wildcards: submission_model(wildcards) or RELEASED[wildcards.model.removeprefix("released/")],
        out=lambda wildcards, output: str(Path(output.zip).parent),
        mc=lambda wildcards: config["released"]["mc_samples"] if wildcards.model.startswith("released/") else EVAL["mc_samples"],
        seed=EVAL["seed"],
        device=EVAL["device"],
    wildcard_constraints:
        model=r"seed\d+|released/[A-Za-z0-9_.-]+",
    resources:
        gpu=on_gpu(EVAL["device"]),
    threads: workflow.cores
    shell:
        "INVDN_THREADS={threads} invdn submit sidd --bench {params.bench:q} --grid {params.grid} "
        "--checkpoint {params.model:q} --out {params.out:q} --mc-samples {params.mc} --seed {params.seed} --device {params.device} "
        "--no-progress > {log} 2>&1"


rule submit_dnd:
    input:
        model=submission_model,
        root=lambda wildcards: if_present("dnd"),
    output:
        zip=f"{P.submission}/{{model}}/dnd/submission.zip",
    log:
        f"{P.logs}/submission/{{model}}/dnd.log",
    params:
        root=lambda wildcards: dataset("dnd"),
        images=config["datasets"]["dnd_images"],
        model=lambda wildcards: submission_model(wildcards) or RELEASED[wildcards.model.removeprefix("released/")],
        out=lambda wildcards, output: str(Path(output.zip).parent),
        mc=lambda wildcards: config["released"]["mc_samples"] if wildcards.model.startswith("released/") else EVAL["mc_samples"],
        seed=EVAL["seed"],
        device=EVAL["device"],
    wildcard_constraints:
        model=r"seed\d+|released/[A-Za-z0-9_.-]+",
    resources:
        gpu=on_gpu(EVAL["device"]),
    threads: workflow.cores
    shell:
        "INVDN_THREADS={threads} invdn submit dnd --root {params.root:q} --images {params.images} --checkpoint {input.model:q} "
        "--out {params.out:q} --mc-samples {params.mc} --seed {params.seed} --device {params.device} "
        "--no-progress > {log} 2>&1"


rule submissions:
    input:
        lambda wildcards: submission_targets(),

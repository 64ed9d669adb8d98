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


def submission_targets():
    targets = []
    for key, target, what in (
        ("sidd_benchmark", "results/submission/sidd/submission.zip", "SIDD benchmark submission"),
        ("dnd", "results/submission/dnd/submission.zip", "DND submission"),
    ):
        if dataset(key):
            targets.append(target)
        else:
            print(f"datasets.{key} is not configured: {what} skipped (set it to the downloaded file or folder)",
                  file=sys.stderr)
    return targets


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
        model=f"results/train/{RUN}/model.pt",
        bench=lambda wildcards: if_present("sidd_benchmark"),
    output:
        mat="results/submission/sidd/SubmitSrgb.mat",
        zip="results/submission/sidd/submission.zip",
    log:
        "logs/submission/sidd.log",
    params:
        bench=lambda wildcards: dataset("sidd_benchmark"),
        mc=config["evaluate"]["mc_samples"],
        seed=config["evaluate"]["seed"],
        device=config["evaluate"]["device"],
    resources:
        gpu=1 if config["evaluate"]["device"].startswith("cuda") else 0,
    threads: workflow.cores
    shell:
        "invdn submit sidd --bench {params.bench:q} --checkpoint {input.model} --out results/submission/sidd "
        "--mc-samples {params.mc} --seed {params.seed} --device {params.device} --threads {threads} "
        "--no-progress > {log} 2>&1"


rule submit_dnd:
    input:
        model=f"results/train/{RUN}/model.pt",
        root=lambda wildcards: if_present("dnd"),
    output:
        zip="results/submission/dnd/submission.zip",
    log:
        "logs/submission/dnd.log",
    params:
        root=lambda wildcards: dataset("dnd"),
        mc=config["evaluate"]["mc_samples"],
        seed=config["evaluate"]["seed"],
        device=config["evaluate"]["device"],
    resources:
        gpu=1 if config["evaluate"]["device"].startswith("cuda") else 0,
    threads: workflow.cores
    shell:
        "invdn submit dnd --root {params.root:q} --checkpoint {input.model} --out results/submission/dnd "
        "--mc-samples {params.mc} --seed {params.seed} --device {params.device} --threads {threads} "
        "--no-progress > {log} 2>&1"


rule submissions:
    input:
        lambda wildcards: submission_targets(),

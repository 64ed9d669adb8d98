# PGap (DANet / PNGAN protocol, "harness protocol" here): the same InvDN training on pairs whose
# noise a generator made from the training set, scored on the real val pairs against the main
# model. Not part of the default target (it trains a second model): `snakemake --cores 2 pgap_all`.


def pgap_dir(wildcards):
    return f"results/pgap/{RUN}/{wildcards.generator}"


def pgap_train_config_json(wildcards):
    """The main run's training config with the generated pairs as training data."""
    keys = ("name", "scale", "data", "model", "train")
    cfg = json.loads(json.dumps({k: config[k] for k in keys}))
    cfg["name"] = f"{config['name']}-pgap-{wildcards.generator}"
    cfg["data"]["train"] = f"{pgap_dir(wildcards)}/train"
    return shlex.quote(json.dumps(cfg, sort_keys=True))


def pgap_source(wildcards):
    """InvDN's generator needs the trained model; a noise model needs nothing but the data."""
    return {"model": f"results/train/{RUN}/model.pt"} if wildcards.generator == "invdn" else {}


rule generate_pairs:
    input:
        unpack(pgap_source),
        data="results/data/train/manifest.json",
    output:
        f"results/pgap/{RUN}/{{generator}}/train/manifest.json",
    log:
        f"logs/pgap/{RUN}/{{generator}}/generate_pairs.log",
    params:
        root=config["data"]["train"],
        out=lambda wildcards: f"{pgap_dir(wildcards)}/train",
        source=lambda wildcards, input: f"--checkpoint {input.model}" if "model" in input.keys()
        else f"--noise-model {wildcards.generator}",
        eps=config["evaluate"]["noise_eps"],
        seed=config["evaluate"]["seed"],
        device=config["evaluate"]["device"],
        code=lambda wildcards: ANALYSIS_CODE if wildcards.generator == "invdn" else BASELINE_EVAL_CODE,
    resources:
        # InvDN's generator runs on the evaluation device; a noise model runs on the CPU
        gpu=lambda wildcards: 1 if wildcards.generator == "invdn" and config["evaluate"]["device"].startswith("cuda") else 0,
    threads: job_threads()
    shell:
        "invdn generate-pairs {params.source} --data {params.root:q} --out {params.out} "
        "--eps {params.eps} --seed {params.seed} --device {params.device} --threads {threads} --no-progress "
        "> {log} 2>&1"


rule train_pgap:
    input:
        MLFLOW_MARKER,
        f"results/pgap/{RUN}/{{generator}}/train/manifest.json",
        "results/data/val/manifest.json",
    output:
        model=f"results/pgap/{RUN}/{{generator}}/model.pt",
    log:
        f"logs/pgap/{RUN}/{{generator}}/train.log",
    params:
        config=pgap_train_config_json,
        out_dir=pgap_dir,
        code=TRAIN_CODE,
    resources:
        gpu=gpus() * TRAIN_PROCESSES,
    threads: job_threads()
    shell:
        "{TRAIN_LAUNCHER} train --config-json {params.config} --out-dir {params.out_dir} --resume "
        f"--threads {threads_per_process(TRAIN_PROCESSES)} "
        "{MLFLOW} --tag snakemake_rule=train_pgap --tag wildcards=generator={wildcards.generator} "
        "--code-version {params.code} > {log} 2>&1"


rule evaluate_pgap:
    input:
        model=f"results/pgap/{RUN}/{{generator}}/model.pt",
        data="results/data/val/manifest.json",
    output:
        f"results/pgap/{RUN}/{{generator}}/eval.json",
    log:
        f"logs/pgap/{RUN}/{{generator}}/evaluate.log",
    params:
        root=config["data"]["val"],
        name=config["data"]["val_name"],
        seed=config["evaluate"]["seed"],
        device=config["evaluate"]["device"],
        code=EVAL_CODE,
    resources:
        gpu=1 if config["evaluate"]["device"].startswith("cuda") else 0,
    threads: job_threads()
    shell:
        "invdn evaluate --checkpoint {input.model} --data {params.root:q} --data-name {params.name:q} "
        "--mode single --seed {params.seed} --device {params.device} --save-samples 0 --threads {threads} "
        "--out {output} --no-progress {MLFLOW} --tag snakemake_rule=evaluate_pgap "
        "--tag wildcards=generator={wildcards.generator} --tag code_version={params.code} > {log} 2>&1"


rule pgap:
    input:
        real=f"results/eval/{RUN}/single.json",
        generated=f"results/pgap/{RUN}/{{generator}}/eval.json",
    output:
        f"results/pgap/{RUN}/{{generator}}/pgap.json",
    log:
        f"logs/pgap/{RUN}/{{generator}}/pgap.log",
    shell:
        "invdn pgap --real {input.real} --generated {input.generated} --generator {wildcards.generator} "
        "--out {output} {MLFLOW} --tag snakemake_rule=pgap > {log} 2>&1"


rule pgap_table:
    input:
        expand(f"results/pgap/{RUN}/{{generator}}/pgap.json", generator=config["evaluate"]["pgap_generators"]),
    output:
        tex="results/tables/pgap.tex",
        csv="results/tables/pgap.csv",
        md="results/tables/pgap.md",
    log:
        "logs/tables/pgap.log",
    params:
        files=lambda wildcards, input: " ".join(f"--pgap {f}" for f in input),
    shell:
        "invdn pgap-table {params.files} --out results/tables/pgap "
        "--tracking-uri {config[mlflow][tracking_uri]:q} > {log} 2>&1"


rule pgap_all:
    input:
        "results/tables/pgap.tex",

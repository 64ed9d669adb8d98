# Baselines run by the harness on the same val data, with the same protocol and statistics as
# InvDN: classical denoisers, learned networks trained by InvDN's own loop on the same patches, and
# DBSN's noise models as generators for Table 5.


rule train_baseline:
    input:
        MLFLOW_MARKER,
        "results/data/train/manifest.json",
        "results/data/val/manifest.json",
    output:
        model=f"results/train/baselines/{NAME}/{{network}}/seed{SEED}/model.pt",
    log:
        f"logs/train/baselines/{NAME}/{{network}}/seed{SEED}/train.log",
    params:
        config=baseline_config_json,
        out_dir=lambda wildcards: f"results/train/baselines/{NAME}/{wildcards.network}/seed{SEED}",
        processes=baseline_processes,
        launcher=lambda wildcards: train_launcher(baseline_processes(wildcards)),
        code=BASELINE_TRAIN_CODE,
    resources:
        gpu=lambda wildcards: gpus() * baseline_processes(wildcards),
    threads: job_threads()
    shell:
        "{params.launcher} train --config-json {params.config} --out-dir {params.out_dir} --resume "
        f"--threads {threads_per_process('{params.processes}')} "
        "{MLFLOW} --tag snakemake_rule=train_baseline --tag wildcards=network={wildcards.network} "
        "--code-version {params.code} > {log} 2>&1"


rule evaluate_baseline:
    input:
        unpack(baseline_model),
        MLFLOW_MARKER,
        data="results/data/val/manifest.json",
    output:
        f"results/eval/baselines/{NAME}/{{method}}.json",
    log:
        f"logs/eval/baselines/{NAME}/{{method}}.log",
    params:
        root=config["data"]["val"],
        name=config["data"]["val_name"],
        samples=config["evaluate"]["save_samples"],
        checkpoint=lambda wildcards, input: f"--checkpoint {input.model}" if "model" in input.keys() else "",
        device=lambda wildcards, input: config["evaluate"]["device"] if "model" in input.keys() else "cpu",
        code=BASELINE_EVAL_CODE,
    resources:
        gpu=lambda wildcards: 1 if wildcards.method in baseline_networks() and config["evaluate"]["device"].startswith("cuda") else 0,
    threads: job_threads()
    shell:
        "invdn evaluate-baseline --method {wildcards.method} {params.checkpoint} --data {params.root:q} "
        "--data-name {params.name:q} --save-samples {params.samples} --device {params.device} --threads {threads} "
        "--out {output} --no-progress {MLFLOW} --tag snakemake_rule=evaluate_baseline "
        "--tag wildcards=method={wildcards.method} --tag code_version={params.code} > {log} 2>&1"


rule akld_noise_model:
    input:
        MLFLOW_MARKER,
        data="results/data/val/manifest.json",
    output:
        f"results/analysis/noise_models/{NAME}/{{noise_model}}/akld.json",
    log:
        f"logs/analysis/noise_models/{NAME}/{{noise_model}}/akld.log",
    params:
        root=config["data"]["val"],
        samples=config["evaluate"]["akld_samples"],
        seed=config["evaluate"]["seed"],
        code=BASELINE_EVAL_CODE,
    shell:
        "invdn akld --noise-model {wildcards.noise_model} --data {params.root:q} --samples {params.samples} "
        "--seed {params.seed} --out {output} --no-progress {MLFLOW} --tag snakemake_rule=akld_noise_model "
        "--tag wildcards=noise_model={wildcards.noise_model} --tag code_version={params.code} > {log} 2>&1"

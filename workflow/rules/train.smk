# Training: one run per config name and seed; resumes from its own last checkpoint after a crash.


rule train:
    input:
        MLFLOW_MARKER,
        "results/data/train/manifest.json",
        "results/data/val/manifest.json",
    output:
        model=f"results/train/{RUN}/model.pt",
    log:
        f"logs/train/{RUN}/train.log",
    params:
        config=train_config_json(),
        out_dir=f"results/train/{RUN}",
        code=TRAIN_CODE,
    resources:
        gpu=gpus(),
    threads: workflow.cores
    shell:
        "invdn train --config-json {params.config} --out-dir {params.out_dir} --resume "
        "--threads {threads} {MLFLOW} --tag snakemake_rule=train --tag wildcards=run={RUN} "
        "--tag code_version={params.code} > {log} 2>&1"

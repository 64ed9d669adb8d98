# Training: one run per config name and seed; resumes from its own last checkpoint after a crash.

# train.processes > 1: torchrun starts that many processes, one per GPU, each with batch_size patches
# (invdn.distributed); each gets its share of the job's threads (--threads is per process).
TRAIN_PROCESSES = config["train"]["processes"]
TRAIN_LAUNCHER = train_launcher(TRAIN_PROCESSES)


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
        gpu=gpus() * TRAIN_PROCESSES,
    # the critical path of the DAG: scheduled before the independent baseline and grid jobs
    priority: 50
    threads: job_threads()
    shell:
        "{TRAIN_LAUNCHER} train --config-json {params.config} --out-dir {params.out_dir} --resume "
        f"--threads {threads_per_process(TRAIN_PROCESSES)} "
        "{MLFLOW} --tag snakemake_rule=train --tag wildcards=run={RUN} --code-version {params.code} > {log} 2>&1"

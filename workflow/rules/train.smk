# Training: one run per seed of train.seeds; each resumes from its own last checkpoint after a crash.
# train.processes > 1: torchrun starts that many processes, one per GPU, sharing the job's threads.


rule train:
    input:
        P.mlflow_marker,
        P.train_manifest,
        P.val_manifest,
    output:
        model=P.model,
    log:
        P.log(P.model),
    params:
        **command(lambda wildcards, output: C.train(
            plan.invdn_run(config, int(wildcards.seed)), str(Path(output.model).parent),
            job("train", wildcards, TRAIN_CODE))),
    wildcard_constraints:
        seed=r"\d+",
    resources:
        **RESOURCES["train"],
        gpu=on_gpu(config["train"]["device"]) * config["train"]["processes"],
    benchmark:
        P.benchmark(P.model),
    conda:
        "../envs/invdn.yaml"
    # the critical path of the DAG: scheduled before the independent baseline and grid jobs
    priority: 50
    threads: job_threads()
    shell:
        "INVDN_THREADS={threads} {params.cmd} > {log} 2>&1"

# Evaluation of each seed's model on the configured val set, one job per inference mode, and the
# model's cost (of the first seed: every seed has the same architecture).


rule evaluate:
    input:
        P.mlflow_marker,
        model=P.model,
        data=P.val_manifest,
    output:
        P.eval,
    log:
        P.log(P.eval),
    params:
        **command(lambda wildcards, input, output: C.evaluate(
            input.model, config["data"]["val"], config["data"]["val_name"], inference(wildcards.mode), output[0],
            job("evaluate", wildcards, EVAL_CODE), EVAL["save_samples"])),
    wildcard_constraints:
        seed=r"\d+",
        mode="single|mc|x8|x8_mc",
    resources:
        **RESOURCES["evaluate"],
        gpu=on_gpu(EVAL["device"]),
    benchmark:
        P.benchmark(P.eval),
    conda:
        "../envs/invdn.yaml"
    priority: 10
    threads: job_threads()
    shell:
        "INVDN_THREADS={threads} {params.cmd} > {log} 2>&1"


rule profile:
    input:
        P.mlflow_marker,
        model=P.model.format(seed=FIRST_SEED),
    output:
        P.profile,
    log:
        P.log(P.profile),
    params:
        **command(lambda wildcards, input, output: C.profile(input.model, EVAL["device"], output[0],
                                                       job("profile", None, ANALYSIS_CODE))),
    resources:
        **RESOURCES["evaluate"],
        gpu=on_gpu(EVAL["device"]),
    conda:
        "../envs/invdn.yaml"
    threads: workflow.cores
    shell:
        "INVDN_THREADS={threads} {params.cmd} > {log} 2>&1"

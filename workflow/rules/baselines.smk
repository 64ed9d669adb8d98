# Baselines run by the harness on the same val data, with the same protocol and statistics as
# InvDN: classical denoisers, learned networks trained by InvDN's own loop on the same patches (one
# run per seed), and DBSN's noise models as generators for Table 5.


rule train_baseline:
    input:
        P.mlflow_marker,
        P.train_manifest,
        P.val_manifest,
    output:
        model=P.baseline_model,
    log:
        P.log(P.baseline_model),
    params:
        **command(lambda wildcards, output: C.train(
            baseline_run(wildcards), str(Path(output.model).parent), job("train_baseline", wildcards, BASELINE_TRAIN_CODE))),
    wildcard_constraints:
        network="[A-Za-z0-9_]+",
        seed=r"\d+",
    resources:
        **RESOURCES["train"],
        gpu=lambda wildcards: on_gpu(config["train"]["device"]) * plan.processes(baseline_run(wildcards)),
    benchmark:
        P.benchmark(P.baseline_model),
    conda:
        "../envs/invdn.yaml"
    threads: job_threads()
    shell:
        "INVDN_THREADS={threads} {params.cmd} > {log} 2>&1"


rule evaluate_classical:
    input:
        P.mlflow_marker,
        data=P.val_manifest,
    output:
        P.classical_eval,
    log:
        P.log(P.classical_eval),
    params:
        **command(lambda wildcards, output: C.evaluate_baseline(
            wildcards.method, None, config["data"]["val"], config["data"]["val_name"], "cpu", output[0],
            job("evaluate_classical", wildcards, BASELINE_EVAL_CODE), EVAL["save_samples"])),
    wildcard_constraints:
        method="[A-Za-z0-9_]+",
    benchmark:
        P.benchmark(P.classical_eval),
    resources:
        **RESOURCES["evaluate"],
    conda:
        "../envs/invdn.yaml"
    threads: job_threads()
    shell:
        "INVDN_THREADS={threads} {params.cmd} > {log} 2>&1"


rule evaluate_network:
    input:
        P.mlflow_marker,
        model=P.baseline_model,
        data=P.val_manifest,
    output:
        P.network_eval,
    log:
        P.log(P.network_eval),
    params:
        **command(lambda wildcards, input, output: C.evaluate_baseline(
            wildcards.network, input.model, config["data"]["val"], config["data"]["val_name"], EVAL["device"],
            output[0], job("evaluate_network", wildcards, BASELINE_EVAL_CODE), EVAL["save_samples"])),
    wildcard_constraints:
        network="[A-Za-z0-9_]+",
        seed=r"\d+",
    resources:
        **RESOURCES["evaluate"],
        gpu=on_gpu(EVAL["device"]),
    benchmark:
        P.benchmark(P.network_eval),
    conda:
        "../envs/invdn.yaml"
    threads: job_threads()
    shell:
        "INVDN_THREADS={threads} {params.cmd} > {log} 2>&1"


rule akld_noise_model:
    input:
        P.mlflow_marker,
        data=P.val_manifest,
    output:
        P.noise_model_akld,
    log:
        P.log(P.noise_model_akld),
    params:
        **command(lambda wildcards, output: C.akld(
            wildcards.noise_model, config["data"]["val"], EVAL["akld_samples"], inference(), output[0],
            job("akld_noise_model", wildcards, BASELINE_EVAL_CODE), noise_model=True)),
    resources:
        **RESOURCES["analysis"],
    conda:
        "../envs/invdn.yaml"
    threads: 1
    shell:
        "INVDN_THREADS={threads} {params.cmd} > {log} 2>&1"

# Released weights (config released.weights: the official InvDN_ResUnit_x4.pth, a PaddleGAN .pdparams or a
# model.pt), evaluated as they are in every released.modes, with SIDD benchmark and DND submission files
# where those datasets are configured. Table 2 shows them as "InvDN (released weights, measured here)".


rule evaluate_released:
    input:
        P.mlflow_marker,
        weights=released_file,
        data=P.val_manifest,
    output:
        P.released_eval,
    log:
        P.log(P.released_eval),
    params:
        **command(lambda wildcards, output: C.evaluate(
            RELEASED[wildcards.weights], config["data"]["val"], config["data"]["val_name"],
            inference(wildcards.mode, "released"), output[0], job("evaluate_released", wildcards, EVAL_CODE),
            EVAL["save_samples"], released=wildcards.weights)),
    wildcard_constraints:
        weights="[A-Za-z0-9_.-]+",
        mode="single|mc|x8|x8_mc",
    resources:
        **RESOURCES["evaluate"],
        gpu=on_gpu(EVAL["device"]),
    benchmark:
        P.benchmark(P.released_eval),
    conda:
        "../envs/invdn.yaml"
    threads: job_threads()
    shell:
        "INVDN_THREADS={threads} {params.cmd} > {log} 2>&1"

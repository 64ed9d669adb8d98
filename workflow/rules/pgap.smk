# PGap (DANet / PNGAN protocol, "harness protocol" here): the same InvDN training on pairs whose
# noise a generator made from the training set, scored on the real val pairs against the main
# model of the same seed. Not part of the default target (it trains a second model per seed):
# `snakemake --cores 2 pgap_all`.


localrules:  # a difference of two metrics files, and its table: on the submitting host
    pgap,
    pgap_table,


rule generate_pairs:
    input:
        unpack(pgap_source),
        data=P.train_manifest,
    output:
        f"{P.pgap}/train/manifest.json",
    log:
        f"{P.logs}/pgap/seed{{seed}}/{{generator}}/generate_pairs.log",
    params:
        **command(lambda wildcards, input, output: C.generate_pairs(
            input.model if "model" in input.keys() else None, wildcards.generator, config["data"]["train"],
            str(Path(output[0]).parent), inference())),
        code=lambda wildcards: ANALYSIS_CODE if wildcards.generator == "invdn" else BASELINE_EVAL_CODE,
    wildcard_constraints:
        seed=r"\d+",
    resources:
        **RESOURCES["analysis"],
        # InvDN's generator runs on the evaluation device; a noise model runs on the CPU
        gpu=lambda wildcards: on_gpu(EVAL["device"]) if wildcards.generator == "invdn" else 0,
    conda:
        "../envs/invdn.yaml"
    threads: job_threads()
    shell:
        "INVDN_THREADS={threads} {params.cmd} > {log} 2>&1"


rule train_pgap:
    input:
        P.mlflow_marker,
        f"{P.pgap}/train/manifest.json",
        P.val_manifest,
    output:
        model=f"{P.pgap}/model.pt",
    log:
        f"{P.logs}/pgap/seed{{seed}}/{{generator}}/train.log",
    params:
        **command(lambda wildcards, input, output: C.train(
            plan.pgap_run(config, wildcards.generator, int(wildcards.seed), str(Path(input[1]).parent)),
            str(Path(output.model).parent), job("train_pgap", wildcards, TRAIN_CODE))),
    wildcard_constraints:
        seed=r"\d+",
    resources:
        **RESOURCES["train"],
        gpu=on_gpu(config["train"]["device"]) * config["train"]["processes"],
    benchmark:
        P.benchmark(f"{P.pgap}/model.pt"),
    conda:
        "../envs/invdn.yaml"
    threads: job_threads()
    shell:
        "INVDN_THREADS={threads} {params.cmd} > {log} 2>&1"


rule evaluate_pgap:
    input:
        P.mlflow_marker,
        model=f"{P.pgap}/model.pt",
        data=P.val_manifest,
    output:
        f"{P.pgap}/eval.json",
    log:
        f"{P.logs}/pgap/seed{{seed}}/{{generator}}/evaluate.log",
    params:
        **command(lambda wildcards, input, output: C.evaluate(
            input.model, config["data"]["val"], config["data"]["val_name"], inference(), output[0],
            job("evaluate_pgap", wildcards, EVAL_CODE))),
    wildcard_constraints:
        seed=r"\d+",
    resources:
        **RESOURCES["evaluate"],
        gpu=on_gpu(EVAL["device"]),
    benchmark:
        P.benchmark(f"{P.pgap}/eval.json"),
    conda:
        "../envs/invdn.yaml"
    threads: job_threads()
    shell:
        "INVDN_THREADS={threads} {params.cmd} > {log} 2>&1"


rule pgap:
    input:
        real=P.eval.replace("{mode}", "single"),
        generated=f"{P.pgap}/eval.json",
    output:
        f"{P.pgap}/pgap.json",
    log:
        f"{P.logs}/pgap/seed{{seed}}/{{generator}}/pgap.log",
    params:
        **command(lambda wildcards, input, output: C.pgap(input.real, input.generated, wildcards.generator, output[0],
                                                    job("pgap", wildcards))),
    wildcard_constraints:
        seed=r"\d+",
    resources:
        **RESOURCES["table"],
    conda:
        "../envs/invdn.yaml"
    shell:
        "{params.cmd} > {log} 2>&1"


rule pgap_table:
    input:
        expand(f"{P.pgap}/pgap.json", seed=SEEDS, generator=EVAL["pgap_generators"]),
    output:
        tex=table_path("pgap"),
        csv=table_path("pgap", "csv"),
        md=table_path("pgap", "md"),
    log:
        f"{P.logs}/tables/pgap.log",
    params:
        **command(lambda wildcards, input, output: C.table("pgap", {"--pgap": input}, output.tex.removesuffix(".tex"),
                                                     TRACKING_URI)),
        code=TABLE_CODE,
    resources:
        **RESOURCES["table"],
    conda:
        "../envs/invdn.yaml"
    shell:
        "{params.cmd} > {log} 2>&1"


rule pgap_all:
    input:
        table_path("pgap"),

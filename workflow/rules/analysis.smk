# Analyses of each seed's model: the MC self-ensemble curve (paper §4.5, Fig. 6) and the AKLD of
# its noise generation (§4.6, Table 5), each a tracked MLflow run.


rule mc_sweep:
    input:
        P.mlflow_marker,
        model=P.model,
        data=P.val_manifest,
    output:
        json=f"{P.analysis}/mc_sweep.json",
        curve=report(f"{P.analysis}/mc_sweep_curve.png", caption="../report/mc_figures.rst", category="Figures",
                     subcategory="MC self-ensemble", labels={"figure": "MC sweep", "seed": "{seed}"}),
        residuals=report(f"{P.analysis}/mc_sweep_residuals.jpg", caption="../report/mc_figures.rst",
                         category="Figures", subcategory="MC self-ensemble",
                         labels={"figure": "MC residual maps (Fig. 6)", "seed": "{seed}"}),
    log:
        f"{P.logs}/analysis/seed{{seed}}/mc_sweep.log",
    params:
        **command(lambda wildcards, input, output: C.mc_sweep(
            input.model, config["data"]["val"], EVAL["mc_sweep"], inference(), output.json,
            job("mc_sweep", wildcards, ANALYSIS_CODE))),
    wildcard_constraints:
        seed=r"\d+",
    resources:
        **RESOURCES["analysis"],
        gpu=on_gpu(EVAL["device"]),
    conda:
        "../envs/invdn.yaml"
    priority: 10
    threads: job_threads()
    shell:
        "INVDN_THREADS={threads} {params.cmd} > {log} 2>&1"


rule akld:
    input:
        P.mlflow_marker,
        model=P.model,
        data=P.val_manifest,
    output:
        f"{P.analysis}/akld.json",
    log:
        f"{P.logs}/analysis/seed{{seed}}/akld.log",
    params:
        **command(lambda wildcards, input, output: C.akld(
            input.model, config["data"]["val"], EVAL["akld_samples"], inference(), output[0],
            job("akld", wildcards, ANALYSIS_CODE))),
    wildcard_constraints:
        seed=r"\d+",
    resources:
        **RESOURCES["analysis"],
        gpu=on_gpu(EVAL["device"]),
    conda:
        "../envs/invdn.yaml"
    priority: 10
    threads: job_threads()
    shell:
        "INVDN_THREADS={threads} {params.cmd} > {log} 2>&1"

# The ablation grid (config `ablations`: Table 3, Fig. 5a, Fig. 5b, Table 4): one training and one
# single-draw evaluation per distinct variant and seed (invdn/ablations.py names variants by their
# settings), then each study's table (differences paired by seed) and training curves. A variant's run
# config is a rule parameter, so editing one value of one study retrains only the variants it touches.


localrules:  # a table and a plot from files and MLflow metrics: on the submitting host
    ablation_table,
    ablation_curves,


rule train_ablation:
    input:
        P.mlflow_marker,
        P.train_manifest,
        P.val_manifest,
    output:
        model=P.ablation_model,
    log:
        P.log(P.ablation_model),
    params:
        **command(lambda wildcards, output: C.train(
            ablation_run(wildcards), str(Path(output.model).parent), job("train_ablation", wildcards, TRAIN_CODE))),
    wildcard_constraints:
        variant="[A-Za-z0-9_.-]+",
        seed=r"\d+",
    resources:
        **RESOURCES["train"],
        gpu=lambda wildcards: on_gpu(config["train"]["device"]) * plan.processes(ablation_run(wildcards)),
    benchmark:
        P.benchmark(P.ablation_model),
    conda:
        "../envs/invdn.yaml"
    threads: job_threads()
    shell:
        "INVDN_THREADS={threads} {params.cmd} > {log} 2>&1"


rule evaluate_ablation:
    input:
        P.mlflow_marker,
        model=lambda wildcards: ablation_model_path(wildcards.variant, wildcards.seed),
        data=P.val_manifest,
    output:
        P.ablation_eval,
    log:
        P.log(P.ablation_eval),
    params:
        **command(lambda wildcards, input, output: C.evaluate(
            input.model, config["data"]["val"], config["data"]["val_name"], inference(), output[0],
            job("evaluate_ablation", wildcards, EVAL_CODE), max_images=config["ablations"]["val_images"])),
    wildcard_constraints:
        variant="[A-Za-z0-9_.-]+",
        seed=r"\d+",
    resources:
        **RESOURCES["evaluate"],
        gpu=on_gpu(EVAL["device"]),
    benchmark:
        P.benchmark(P.ablation_eval),
    conda:
        "../envs/invdn.yaml"
    threads: job_threads()
    shell:
        "INVDN_THREADS={threads} {params.cmd} > {log} 2>&1"


rule ablation_table:
    input:
        metrics=lambda wildcards: study_files(wildcards, ablation_metrics_path),
        reference=REFERENCE,
    output:
        tex=f"{P.tables}/{{study}}.tex",
        csv=report(f"{P.tables}/{{study}}.csv", caption="../report/ablation_table.rst", category="Tables",
                   labels={"table": "{study}"}),
        md=f"{P.tables}/{{study}}.md",
    log:
        f"{P.logs}/tables/{{study}}.log",
    params:
        **command(lambda wildcards, input, output: C.table(
            "ablation", {"--metrics": input.metrics}, output.tex.removesuffix(".tex"), TRACKING_URI,
            {"--study": wildcards.study, "--reference": input.reference, "--protocol": EVAL["protocol"],
             "--versus": MAIN_VARIANT if MAIN_VARIANT in study_variants(wildcards) else study_variants(wildcards)[0]})),
        code=TABLE_CODE,
    wildcard_constraints:
        study="table3|fig5a|fig5b|table4",
    resources:
        **RESOURCES["table"],
    conda:
        "../envs/invdn.yaml"
    shell:
        "{params.cmd} > {log} 2>&1"


rule ablation_curves:
    input:
        models=lambda wildcards: study_files(wildcards, ablation_model_path),
    output:
        png=report(f"{P.figures}/{{study}}_curves.png", caption="../report/ablation_curves.rst",
                   category="Figures", subcategory="Training curves", labels={"figure": "{study}"}),
        pdf=f"{P.figures}/{{study}}_curves.pdf",
        csv=f"{P.figures}/{{study}}_curves.csv",
    log:
        f"{P.logs}/figures/{{study}}_curves.log",
    params:
        **command(lambda wildcards, input, output: C.figure_curves(
            curve_labels(wildcards, input.models), plan.STUDY_TITLES[wildcards.study], output.png.removesuffix(".png"),
            TRACKING_URI)),
    wildcard_constraints:
        study="table3|fig5a|fig5b|table4",
    resources:
        **RESOURCES["table"],
    conda:
        "../envs/invdn.yaml"
    shell:
        "{params.cmd} > {log} 2>&1"

# The ablation grid (config `ablations`: Table 3, Fig. 5a, Fig. 5b, Table 4): one training and one
# single-draw evaluation per distinct variant and seed (invdn/ablations.py names variants by their
# settings), then each study's table (differences paired by seed) and training curves. A variant's run
# config is a rule parameter, so editing one value of one study retrains only the variants it touches.


def study_variants(wildcards):
    return [v.name for v in STUDIES[wildcards.study]]


def ablation_run(wildcards):
    return plan.ablation_run(config, VARIANTS[wildcards.variant], int(wildcards.seed))


def curve_labels(wildcards, models):
    """{legend label: model file} of a study's curves (the seed in the label when there are several)."""
    seeds = plan.ablation_seeds(config)
    pairs = [(v, s) for v in study_variants(wildcards) for s in seeds]
    return {plan.study_label(wildcards.study, VARIANTS[v]) + (f" (seed {s})" if len(seeds) > 1 else ""): m
            for (v, s), m in zip(pairs, models)}


def study_files(wildcards, path):
    """``path(variant, seed)`` for every variant of the study and every grid seed."""
    return [path(v, s) for v in study_variants(wildcards) for s in plan.ablation_seeds(config)]


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
        gpu=lambda wildcards: on_gpu(config["train"]["device"]) * plan.processes(ablation_run(wildcards)),
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
        gpu=on_gpu(EVAL["device"]),
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
    shell:
        "{params.cmd} > {log} 2>&1"

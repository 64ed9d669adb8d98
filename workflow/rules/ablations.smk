# The ablation grid (config `ablations`: Table 3, Fig. 5a, Fig. 5b, Table 4): one training and one
# single-draw evaluation per distinct variant (invdn/ablations.py names them by their settings), then
# each study's table and training curves. A variant's config is a rule parameter, so editing one
# value of one study retrains only the variants it touches, and the tables and figures that read them.


rule train_ablation:
    input:
        MLFLOW_MARKER,
        "results/data/train/manifest.json",
        "results/data/val/manifest.json",
    output:
        model=f"results/train/{NAME}/ablations/{{variant}}/seed{SEED}/model.pt",
    log:
        f"logs/train/{NAME}/ablations/{{variant}}/seed{SEED}/train.log",
    params:
        config=ablation_config_json,
        out_dir=lambda wildcards: f"results/train/{NAME}/ablations/{wildcards.variant}/seed{SEED}",
        processes=ablation_processes,
        launcher=lambda wildcards: train_launcher(ablation_processes(wildcards)),
        code=TRAIN_CODE,
    wildcard_constraints:
        variant="[A-Za-z0-9_.-]+",
    resources:
        gpu=lambda wildcards: gpus() * ablation_processes(wildcards),
    threads: job_threads()
    shell:
        "{params.launcher} train --config-json {params.config} --out-dir {params.out_dir} --resume "
        f"--threads {threads_per_process('{params.processes}')} "
        "--no-progress {MLFLOW} --tag snakemake_rule=train_ablation --tag wildcards=variant={wildcards.variant} "
        "--code-version {params.code} > {log} 2>&1"


rule evaluate_ablation:
    input:
        MLFLOW_MARKER,
        model=lambda wildcards: ablation_model_path(wildcards.variant),
        data="results/data/val/manifest.json",
    output:
        f"results/eval/{NAME}/ablations/{{variant}}/single.json",
    log:
        f"logs/eval/{NAME}/ablations/{{variant}}/single.log",
    params:
        root=config["data"]["val"],
        name=config["data"]["val_name"],
        seed=config["evaluate"]["seed"],
        device=config["evaluate"]["device"],
        precision=config["evaluate"]["precision"],
        images=config["ablations"]["val_images"],
        code=EVAL_CODE,
    wildcard_constraints:
        variant="[A-Za-z0-9_.-]+",
    resources:
        gpu=1 if config["evaluate"]["device"].startswith("cuda") else 0,
    threads: job_threads()
    shell:
        "invdn evaluate --checkpoint {input.model} --data {params.root:q} --data-name {params.name:q} "
        "--mode single --mc-samples 1 --seed {params.seed} --device {params.device} --save-samples 0 "
        "--max-images {params.images} "
        "--precision {params.precision} --threads {threads} --out {output} --no-progress {MLFLOW} "
        "--tag snakemake_rule=evaluate_ablation --tag wildcards=variant={wildcards.variant} "
        "--tag code_version={params.code} > {log} 2>&1"


def study_variants(wildcards):
    return [v.name for v in ABLATIONS[wildcards.study]]


rule ablation_table:
    input:
        metrics=lambda wildcards: [ablation_metrics_path(v) for v in study_variants(wildcards)],
        reference=REFERENCE,
    output:
        tex="results/tables/{study}.tex",
        csv=report("results/tables/{study}.csv", caption="../report/ablation_table.rst", category="Tables",
                   labels={"table": "{study}"}),
        md="results/tables/{study}.md",
    log:
        "logs/tables/{study}.log",
    params:
        metrics=lambda wildcards, input: " ".join(f"--metrics {m}" for m in input.metrics),
        versus=lambda wildcards: MAIN_VARIANT if MAIN_VARIANT in study_variants(wildcards) else study_variants(wildcards)[0],
        code=TABLE_CODE,
    wildcard_constraints:
        study="table3|fig5a|fig5b|table4",
    shell:
        "invdn ablation-table --study {wildcards.study} {params.metrics} --reference {input.reference} "
        "--versus {params.versus} --out results/tables/{wildcards.study} --tracking-uri {config[mlflow][tracking_uri]:q} > {log} 2>&1"


rule ablation_curves:
    input:
        models=lambda wildcards: [ablation_model_path(v) for v in study_variants(wildcards)],
    output:
        png=report(f"results/figures/{NAME}/{{study}}_curves.png", caption="../report/ablation_curves.rst",
                   category="Figures", subcategory="Training curves", labels={"figure": "{study}"}),
        pdf=f"results/figures/{NAME}/{{study}}_curves.pdf",
        csv=f"results/figures/{NAME}/{{study}}_curves.csv",
    log:
        f"logs/figures/{NAME}/{{study}}_curves.log",
    params:
        models=lambda wildcards, input: " ".join(
            f"--model {shlex.quote(ablation_label(wildcards.study, VARIANTS[v]) + '=' + m)}"
            for v, m in zip(study_variants(wildcards), input.models)),
        title=lambda wildcards: shlex.quote(STUDY_TITLES[wildcards.study]),
    wildcard_constraints:
        study="table3|fig5a|fig5b|table4",
    shell:
        "invdn figure curves {params.models} --title {params.title} --out results/figures/{NAME}/{wildcards.study}_curves "
        "--tracking-uri {config[mlflow][tracking_uri]:q} > {log} 2>&1"

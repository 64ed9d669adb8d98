# Baselines scored on the same val data with the same protocol as InvDN.


rule evaluate_baseline:
    input:
        MLFLOW_MARKER,
        data="results/data/val/manifest.json",
    output:
        "results/eval/baselines/{method}.json",
    log:
        "logs/eval/baselines/{method}.log",
    params:
        root=config["data"]["val"],
        name=config["data"]["val_name"],
        samples=config["evaluate"]["save_samples"],
        code=code_version("evaluate.py", "metrics", "../baselines"),
    shell:
        "invdn evaluate-baseline --method {wildcards.method} --data {params.root:q} "
        "--data-name {params.name:q} --save-samples {params.samples} --out {output} --no-progress {MLFLOW} "
        "--tag snakemake_rule=evaluate_baseline --tag wildcards=method={wildcards.method} "
        "--tag code_version={params.code} > {log} 2>&1"

# Tables from MLflow, cross-checked against the metrics files they are built from.


rule table2:
    input:
        metrics=expand(f"results/eval/{RUN}/{{mode}}.json", mode=eval_modes())
        + expand("results/eval/baselines/{method}.json", method=config["evaluate"]["baselines"]),
        reference=REFERENCE,
        profile=f"results/profile/{RUN}/profile.json",
    output:
        "results/tables/table2.tex",
    log:
        "logs/tables/table2.log",
    params:
        metrics=lambda wildcards, input: " ".join(f"--metrics {m}" for m in input.metrics),
    shell:
        "invdn table2 {params.metrics} --reference {input.reference} --profile {input.profile} --out {output} "
        "--tracking-uri {config[mlflow][tracking_uri]:q} > {log} 2>&1"


rule cost_table:
    input:
        reference=REFERENCE,
    output:
        tex="results/tables/cost.tex",
        csv="results/tables/cost.csv",
        md="results/tables/cost.md",
    log:
        "logs/tables/cost.log",
    params:
        code=COST_CODE,
    shell:
        "invdn cost-table --reference {input.reference} --out results/tables/cost > {log} 2>&1"

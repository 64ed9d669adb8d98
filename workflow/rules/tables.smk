# Tables from MLflow, cross-checked against the metrics files they are built from.


rule table2:
    input:
        metrics=expand(f"results/eval/{RUN}/{{mode}}.json", mode=eval_modes())
        + baseline_metrics(),
        reference=REFERENCE,
        profile=f"results/profile/{RUN}/profile.json",
    output:
        tex="results/tables/table2.tex",
        csv=report("results/tables/table2.csv", caption="../report/table2.rst", category="Tables", labels={"table": "Table 2"}),
        md="results/tables/table2.md",
    log:
        "logs/tables/table2.log",
    params:
        metrics=lambda wildcards, input: " ".join(f"--metrics {m}" for m in input.metrics),
    shell:
        "invdn table2 {params.metrics} --reference {input.reference} --profile {input.profile} --out {output.tex} "
        "--tracking-uri {config[mlflow][tracking_uri]:q} > {log} 2>&1"


rule cost_table:
    input:
        reference=REFERENCE,
    output:
        tex="results/tables/cost.tex",
        csv=report("results/tables/cost.csv", caption="../report/cost.rst", category="Tables", labels={"table": "Cost"}),
        md="results/tables/cost.md",
    log:
        "logs/tables/cost.log",
    params:
        code=COST_CODE,
    shell:
        "invdn cost-table --reference {input.reference} --out results/tables/cost > {log} 2>&1"


rule mc_table:
    input:
        sweep=f"results/analysis/{RUN}/mc_sweep.json",
        reference=REFERENCE,
    output:
        tex="results/tables/mc.tex",
        csv=report("results/tables/mc.csv", caption="../report/mc_table.rst", category="Tables", labels={"table": "MC self-ensemble"}),
        md="results/tables/mc.md",
    log:
        "logs/tables/mc.log",
    shell:
        "invdn mc-table --sweep {input.sweep} --reference {input.reference} --out results/tables/mc "
        "--tracking-uri {config[mlflow][tracking_uri]:q} > {log} 2>&1"


rule table5:
    input:
        akld=akld_files(),
        reference=REFERENCE,
    output:
        tex="results/tables/table5.tex",
        csv=report("results/tables/table5.csv", caption="../report/table5.rst", category="Tables", labels={"table": "Table 5"}),
        md="results/tables/table5.md",
    log:
        "logs/tables/table5.log",
    params:
        akld=lambda wildcards, input: " ".join(f"--akld {a}" for a in input.akld),
    shell:
        "invdn table5 {params.akld} --reference {input.reference} --out results/tables/table5 "
        "--tracking-uri {config[mlflow][tracking_uri]:q} > {log} 2>&1"

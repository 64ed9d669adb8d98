# Tables from MLflow, cross-checked against the metrics files they are built from. A row trained with
# several seeds shows the across-seed mean, sd and range beside the per-image bootstrap interval.
# Each is a few seconds of reading files: they run on the submitting host (on SLURM, not one sbatch job each).


localrules:
    table2,
    cost_table,
    mc_table,
    table5,
    ledger,
    benchmark_table,


rule table2:
    input:
        metrics=main_metrics() + baseline_metrics() + released_metrics(),
        reference=REFERENCE,
        profile=[P.profile] if SEEDS else [],
    output:
        tex=table_path("table2"),
        csv=report(table_path("table2", "csv"), caption="../report/table2.rst", category="Tables",
                   labels={"table": "Table 2"}),
        md=table_path("table2", "md"),
    log:
        f"{P.logs}/tables/table2.log",
    params:
        **command(lambda wildcards, input, output: C.table(
            "table2", {"--metrics": input.metrics, "--profile": input.profile}, output.tex.removesuffix(".tex"),
            TRACKING_URI, {"--reference": input.reference, "--protocol": EVAL["protocol"]})),
        code=TABLE_CODE,
    resources:
        **RESOURCES["table"],
    conda:
        "../envs/invdn.yaml"
    shell:
        "{params.cmd} > {log} 2>&1"


rule cost_table:
    input:
        reference=REFERENCE,
    output:
        tex=table_path("cost"),
        csv=report(table_path("cost", "csv"), caption="../report/cost.rst", category="Tables", labels={"table": "Cost"}),
        md=table_path("cost", "md"),
    log:
        f"{P.logs}/tables/cost.log",
    params:
        **command(lambda wildcards, input, output: C.table("cost", {}, output.tex.removesuffix(".tex"), None,
                                                     {"--reference": input.reference})),
        code=COST_CODE,
    resources:
        **RESOURCES["table"],
    conda:
        "../envs/invdn.yaml"
    shell:
        "{params.cmd} > {log} 2>&1"


rule mc_table:
    input:
        sweeps=expand(f"{P.analysis}/mc_sweep.json", seed=SEEDS),
        reference=REFERENCE,
    output:
        tex=table_path("mc"),
        csv=report(table_path("mc", "csv"), caption="../report/mc_table.rst", category="Tables",
                   labels={"table": "MC self-ensemble"}),
        md=table_path("mc", "md"),
    log:
        f"{P.logs}/tables/mc.log",
    params:
        **command(lambda wildcards, input, output: C.table(
            "mc", {"--sweep": input.sweeps}, output.tex.removesuffix(".tex"), TRACKING_URI,
            {"--reference": input.reference})),
        code=TABLE_CODE,
    resources:
        **RESOURCES["table"],
    conda:
        "../envs/invdn.yaml"
    shell:
        "{params.cmd} > {log} 2>&1"


rule table5:
    input:
        akld=akld_files(),
        reference=REFERENCE,
    output:
        tex=table_path("table5"),
        csv=report(table_path("table5", "csv"), caption="../report/table5.rst", category="Tables",
                   labels={"table": "Table 5"}),
        md=table_path("table5", "md"),
    log:
        f"{P.logs}/tables/table5.log",
    params:
        **command(lambda wildcards, input, output: C.table(
            "table5", {"--akld": input.akld}, output.tex.removesuffix(".tex"), TRACKING_URI,
            {"--reference": input.reference})),
        code=TABLE_CODE,
    resources:
        **RESOURCES["table"],
    conda:
        "../envs/invdn.yaml"
    shell:
        "{params.cmd} > {log} 2>&1"


rule ledger:
    input:
        tables=ledger_tables(),
        claims=CLAIMS,
        reference=REFERENCE,
    output:
        tex=ledger_path("tex"),
        csv=report(ledger_path("csv"), caption="../report/ledger.rst", category="Claims ledger",
                   labels={"table": "Claims ledger"}),
        md=ledger_path("md"),
    log:
        f"{P.logs}/ledger.log",
    params:
        **command(lambda wildcards, input, output: C.table(
            "ledger", {}, output.tex.removesuffix(".tex"), TRACKING_URI,
            {"--claims": input.claims, "--reference": input.reference, "--tables": str(Path(output.tex).parent / "tables")})),
        code=LEDGER_CODE,
    resources:
        **RESOURCES["table"],
    conda:
        "../envs/invdn.yaml"
    shell:
        "{params.cmd} > {log} 2>&1"


rule benchmark_table:
    input:
        benchmarks=benchmark_files(),
    output:
        tex=table_path("benchmarks"),
        csv=report(table_path("benchmarks", "csv"), caption="../report/benchmarks.rst", category="Benchmarks",
                   labels={"table": "Job cost"}),
        md=table_path("benchmarks", "md"),
    log:
        f"{P.logs}/tables/benchmarks.log",
    params:
        **command(lambda wildcards, input, output: C.table(
            "benchmarks", {"--benchmark": input.benchmarks}, output.tex.removesuffix(".tex"), None,
            {"--root": P.benchmarks})),
        code=BENCHMARK_CODE,
    resources:
        **RESOURCES["table"],
    conda:
        "../envs/invdn.yaml"
    shell:
        "{params.cmd} > {log} 2>&1"

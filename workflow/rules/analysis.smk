# Analyses of the trained model: the MC self-ensemble curve (paper §4.5, Fig. 6) and the AKLD of
# its noise generation (§4.6, Table 5), each a tracked MLflow run.


rule mc_sweep:
    input:
        MLFLOW_MARKER,
        model=f"results/train/{RUN}/model.pt",
        data="results/data/val/manifest.json",
    output:
        json=f"results/analysis/{RUN}/mc_sweep.json",
        curve=report(f"results/analysis/{RUN}/mc_sweep_curve.png", caption="../report/mc_figures.rst", category="Figures",
                     subcategory="MC self-ensemble", labels={"figure": "MC sweep"}),
        residuals=report(f"results/analysis/{RUN}/mc_sweep_residuals.png", caption="../report/mc_figures.rst",
                         category="Figures", subcategory="MC self-ensemble", labels={"figure": "MC residual maps (Fig. 6)"}),
    log:
        f"logs/analysis/{RUN}/mc_sweep.log",
    params:
        root=config["data"]["val"],
        counts=",".join(str(k) for k in config["evaluate"]["mc_sweep"]),
        seed=config["evaluate"]["seed"],
        device=config["evaluate"]["device"],
        code=ANALYSIS_CODE,
    resources:
        gpu=1 if config["evaluate"]["device"].startswith("cuda") else 0,
    priority: 10
    threads: job_threads()
    shell:
        "invdn mc-sweep --checkpoint {input.model} --data {params.root:q} --counts {params.counts} "
        "--seed {params.seed} --device {params.device} --threads {threads} --out {output.json} --no-progress "
        "{MLFLOW} --tag snakemake_rule=mc_sweep --tag code_version={params.code} > {log} 2>&1"


rule akld:
    input:
        MLFLOW_MARKER,
        model=f"results/train/{RUN}/model.pt",
        data="results/data/val/manifest.json",
    output:
        f"results/analysis/{RUN}/akld.json",
    log:
        f"logs/analysis/{RUN}/akld.log",
    params:
        root=config["data"]["val"],
        samples=config["evaluate"]["akld_samples"],
        eps=config["evaluate"]["noise_eps"],
        seed=config["evaluate"]["seed"],
        device=config["evaluate"]["device"],
        code=ANALYSIS_CODE,
    resources:
        gpu=1 if config["evaluate"]["device"].startswith("cuda") else 0,
    priority: 10
    threads: job_threads()
    shell:
        "invdn akld --checkpoint {input.model} --data {params.root:q} --samples {params.samples} "
        "--eps {params.eps} --seed {params.seed} --device {params.device} --threads {threads} --out {output} "
        "--no-progress {MLFLOW} --tag snakemake_rule=akld --tag code_version={params.code} > {log} 2>&1"

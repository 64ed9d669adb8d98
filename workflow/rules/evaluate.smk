# Evaluation on the configured val set, one job per inference mode (single draw, MC ensemble).


rule evaluate:
    input:
        model=f"results/train/{RUN}/model.pt",
        data="results/data/val/manifest.json",
    output:
        f"results/eval/{RUN}/{{mode}}.json",
    log:
        f"logs/eval/{RUN}/{{mode}}.log",
    params:
        root=config["data"]["val"],
        name=config["data"]["val_name"],
        mc=mc_samples,
        seed=config["evaluate"]["seed"],
        device=config["evaluate"]["device"],
        precision=config["evaluate"]["precision"],
        samples=config["evaluate"]["save_samples"],
        code=EVAL_CODE,
    wildcard_constraints:
        mode="single|mc|x8|x8_mc",
    resources:
        gpu=1 if config["evaluate"]["device"].startswith("cuda") else 0,
    priority: 10
    threads: job_threads()
    shell:
        "invdn evaluate --checkpoint {input.model} --data {params.root:q} --data-name {params.name:q} "
        "--mode {wildcards.mode} --mc-samples {params.mc} --seed {params.seed} --device {params.device} "
        "--save-samples {params.samples} --precision {params.precision} --threads {threads} --out {output} "
        "--no-progress {MLFLOW} --tag snakemake_rule=evaluate --tag wildcards=mode={wildcards.mode} "
        "--tag code_version={params.code} > {log} 2>&1"


rule profile:
    input:
        MLFLOW_MARKER,
        model=f"results/train/{RUN}/model.pt",
    output:
        f"results/profile/{RUN}/profile.json",
    log:
        f"logs/profile/{RUN}/profile.log",
    params:
        device=config["evaluate"]["device"],
        code=EVAL_CODE,
    resources:
        gpu=1 if config["evaluate"]["device"].startswith("cuda") else 0,
    threads: workflow.cores
    shell:
        "invdn profile --checkpoint {input.model} --device {params.device} --threads {threads} "
        "--out {output} {MLFLOW} --tag snakemake_rule=profile --tag code_version={params.code} > {log} 2>&1"

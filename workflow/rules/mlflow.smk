# The MLflow store and experiment are created once, by one local job, before any parallel job:
# concurrent first-time creation of a sqlite store corrupts it.


localrules:
    mlflow_init,


rule mlflow_init:
    output:
        P.mlflow_marker,
    log:
        "logs/mlflow/init.log",
    params:
        **command(lambda wildcards, output: C.mlflow_init(job("mlflow_init"), output[0])),
    resources:
        **RESOURCES["table"],
    conda:
        "../envs/invdn.yaml"
    shell:
        "{params.cmd} > {log} 2>&1"

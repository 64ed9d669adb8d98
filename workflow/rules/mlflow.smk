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
        mlflow=MLFLOW,
    shell:
        "invdn mlflow-init {params.mlflow} --out {output} > {log} 2>&1"

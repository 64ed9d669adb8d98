# The MLflow store and experiment are created once, by one local job, before any parallel job:
# concurrent first-time creation of a sqlite store corrupts it.


localrules:
    mlflow_init,


rule mlflow_init:
    output:
        MLFLOW_MARKER,
    log:
        "logs/mlflow/init.log",
    shell:
        "invdn mlflow-init {MLFLOW} --out {output} > {log} 2>&1"

# The MLflow store and experiment are created once, by one local job, before any parallel job:
# concurrent first-time creation of a sqlite store corrupts it.
#
# Restarting after a kill needs no manual step (invdn.pipeline.recovery): the locks a killed
# snakemake left are removed when its process is gone (a live run's locks are kept, so a second
# invocation on the same files is refused by Snakemake), and at start the runs that killed jobs left
# RUNNING in the store are ended FAILED (`invdn runs repair`), to be resumed by the jobs' reruns.
import sys

from invdn.pipeline import recovery

if workflow.is_main_process:
    for _line in recovery.clear_stale_locks():
        print(_line, file=sys.stderr)
    recovery.claim()


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


# One MLflow run per DAG invocation (invdn.tracking.dag): at the start, runs that dead processes left
# RUNNING are marked FAILED (recovery.on_dag_start, which also warns about a sqlite store on a network
# file system), then the invocation's run is opened with the config and its id exported
# ($INVDN_DAG_RUN_ID), so every job's run is its child; it ends FINISHED or FAILED with the DAG.
# Handlers only (no rule's params change, so nothing reruns because of them); dry runs skip them.
onstart:
    from invdn.tracking import dag as _dag

    for _line in recovery.on_dag_start(TRACKING_URI):
        print(_line, file=sys.stderr)
    _dag.start(TRACKING_URI, config["mlflow"]["experiment"], config, NAME)


onsuccess:
    from invdn.tracking import dag as _dag

    _dag.end(TRACKING_URI, succeeded=True)


onerror:
    from invdn.tracking import dag as _dag

    _dag.end(TRACKING_URI, succeeded=False)


localrules:
    register_model,


# The best main-seed model (highest mean PSNR) in the Model Registry: registered model "invdn", alias
# the preset's name (models:/invdn@smoke, models:/invdn@paper).
rule register_model:
    input:
        registry_metrics(),
    output:
        P.registered,
    log:
        P.log(P.registered),
    params:
        **command(lambda wildcards, input, output: C.register_model(
            input, "invdn", config["preset"], output[0], job("register_model"))),
    resources:
        **RESOURCES["table"],
    conda:
        "../envs/invdn.yaml"
    shell:
        "{params.cmd} > {log} 2>&1"

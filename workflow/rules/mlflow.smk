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


onstart:
    for _line in recovery.on_dag_start(TRACKING_URI):
        print(_line, file=sys.stderr)


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

# invdn-repro: data -> train -> evaluate -> track -> tables.
# Default config: smoke scale on the bundled real SIDD patches (CPU, minutes).
#   snakemake --cores 2
#   snakemake --cores 2 pgap_all                                      # PGap (trains a second model)
#   snakemake --cores 2 --configfile workflow/config/paper.yaml      # paper scale (GPU)
#   snakemake --profile workflow/profiles/slurm --configfile ...      # on a SLURM cluster
from snakemake.utils import min_version

min_version("9.0")


configfile: "workflow/config/smoke.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/mlflow.smk"
include: "workflow/rules/datasets.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/baselines.smk"
include: "workflow/rules/analysis.smk"
include: "workflow/rules/pgap.smk"
include: "workflow/rules/ablations.smk"
include: "workflow/rules/figures.smk"
include: "workflow/rules/tables.smk"


rule all:
    input:
        all_targets(),
    default_target: True

# invdn-repro: data -> train -> evaluate -> track -> tables. An index: config, validation, rules.
# The config is workflow/config/base.yaml with a preset over it (workflow/config/presets/<preset>.yaml,
# default smoke: the bundled real SIDD patches on a CPU in minutes), then the command line's config.
# Every command below reads profiles/default/config.yaml (rerun-incomplete, show-failed-logs, the GPU cap)
# unless it names another workflow profile.
#   snakemake --cores 2                                                          # preset smoke
#   snakemake --cores 2 pgap_all                                                 # PGap (trains a second model)
#   snakemake --cores 8 --configfile workflow/config/presets/paper.yaml          # paper scale (GPU)
#   snakemake --workflow-profile workflow/profiles/slurm --configfile workflow/config/presets/paper.yaml
#   invdn presets audit                                                          # every planned job's settings
from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.utils import min_version

min_version("9.0")


configfile: str(Path(workflow.basedir) / "workflow" / "config" / "base.yaml")


# config is now base.yaml with the command line's config over it; that names the preset (or the
# base's default), whose file goes between the two
_PRESET = Path(workflow.basedir) / "workflow" / "config" / "presets" / f"{config['preset']}.yaml"
if not _PRESET.is_file():
    raise WorkflowError(
        f"preset {config['preset']!r}: {_PRESET} not found; presets: "
        + ", ".join(sorted(p.stem for p in _PRESET.parent.glob("*.yaml")))
    )


configfile: str(_PRESET)


report: "workflow/report/workflow.rst"


# The software of every job: each rule names the conda env workflow/envs/invdn.yaml, and this image
# holds the same (containers/, docs/containers.md). Used only when asked:
# --software-deployment-method conda | apptainer | conda apptainer. config `container` picks the image
# (the CUDA one on GPU machines).
container: config["container"]


include: "workflow/rules/common.smk"
include: "workflow/rules/inputs.smk"
include: "workflow/rules/mlflow.smk"
include: "workflow/rules/datasets.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/released.smk"
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

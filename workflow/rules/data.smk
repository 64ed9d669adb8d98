# Data checks: every pair readable, sizes consistent; a manifest with sha256 of each file.


rule validate_train_data:
    input:
        # a folder that a prepare rule fills is tracked by that rule's marker (written last), so
        # the input set is the same before and after preparation
        prepared("train") or data_files("train", ["Noisy", "GT", "LQ"]),
    output:
        P.train_manifest,
    log:
        P.log(P.train_manifest),
    params:
        **command(lambda wildcards, output: C.validate_data(config["data"]["train"], output[0], 2 ** config["model"]["down_blocks"])),
    resources:
        **RESOURCES["data"],
    conda:
        "../envs/invdn.yaml"
    shell:
        "{params.cmd} > {log} 2>&1"


rule validate_val_data:
    input:
        prepared("val") or data_files("val", ["Noisy", "GT"]),
    output:
        P.val_manifest,
    log:
        P.log(P.val_manifest),
    params:
        **command(lambda wildcards, output: C.validate_data(config["data"]["val"], output[0])),
    resources:
        **RESOURCES["data"],
    conda:
        "../envs/invdn.yaml"
    shell:
        "{params.cmd} > {log} 2>&1"

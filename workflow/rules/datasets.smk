# The official SIDD and DND downloads: preparation into the training / val folders, and the files
# the benchmark servers accept. Each dataset is optional (config `datasets`); one that is not
# configured is skipped with a message, and the bundled data (data.train / data.val) are used.


rule prepare_sidd_medium:
    input:
        lambda wildcards: if_present("sidd_medium"),
    output:
        f"{config['data']['train']}/manifest.sha256",
    log:
        f"{P.logs}/data/prepare_sidd_medium.log",
    params:
        **command(lambda wildcards: C.prepare_sidd_medium(
            dataset("sidd_medium"), config["data"]["train"], dataset("patch") or 512, dataset("per_image") or 100,
            dataset("stride"), dataset("seed") or 0)),
    resources:
        **RESOURCES["data"],
    conda:
        "../envs/invdn.yaml"
    threads: workflow.cores
    shell:
        "INVDN_THREADS={threads} {params.cmd} > {log} 2>&1"


rule prepare_sidd_val:
    input:
        lambda wildcards: if_present("sidd_val_noisy") + if_present("sidd_val_gt"),
    output:
        f"{config['data']['val']}/prepare.json",
    log:
        f"{P.logs}/data/prepare_sidd_val.log",
    params:
        **command(lambda wildcards: C.prepare_sidd_val(dataset("sidd_val_noisy"), dataset("sidd_val_gt"), config["data"]["val"])),
    resources:
        **RESOURCES["data"],
    conda:
        "../envs/invdn.yaml"
    shell:
        "{params.cmd} > {log} 2>&1"


rule submit_sidd:
    input:
        model=submission_model,
        bench=lambda wildcards: if_present("sidd_benchmark"),
    output:
        mat=f"{P.submission}/{{model}}/sidd/SubmitSrgb.mat",
        zip=f"{P.submission}/{{model}}/sidd/submission.zip",
    log:
        f"{P.logs}/submission/{{model}}/sidd.log",
    params:
        **command(lambda wildcards, output: C.submit_sidd(
            submission_weights(wildcards), dataset("sidd_benchmark"), config["datasets"]["sidd_grid"],
            submission_inference(wildcards), str(Path(output.zip).parent))),
    wildcard_constraints:
        model=r"seed\d+|released/[A-Za-z0-9_.-]+",
    resources:
        **RESOURCES["evaluate"],
        gpu=on_gpu(EVAL["device"]),
    conda:
        "../envs/invdn.yaml"
    threads: workflow.cores
    shell:
        "INVDN_THREADS={threads} {params.cmd} > {log} 2>&1"


rule submit_dnd:
    input:
        model=submission_model,
        root=lambda wildcards: if_present("dnd"),
    output:
        zip=f"{P.submission}/{{model}}/dnd/submission.zip",
    log:
        f"{P.logs}/submission/{{model}}/dnd.log",
    params:
        **command(lambda wildcards, output: C.submit_dnd(
            submission_weights(wildcards), dataset("dnd"), config["datasets"]["dnd_images"],
            submission_inference(wildcards), str(Path(output.zip).parent))),
    wildcard_constraints:
        model=r"seed\d+|released/[A-Za-z0-9_.-]+",
    resources:
        **RESOURCES["evaluate"],
        gpu=on_gpu(EVAL["device"]),
    conda:
        "../envs/invdn.yaml"
    threads: workflow.cores
    shell:
        "INVDN_THREADS={threads} {params.cmd} > {log} 2>&1"


rule submissions:
    input:
        lambda wildcards: submission_targets(),

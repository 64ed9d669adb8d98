# Figures of the trained model (not tracked runs: they read the model and the val images only):
# its latent against the prior and the noise it generates (paper §4.6, Fig. 7), and a before/after
# gallery (single draw and MC self-ensemble, with generated noise beside the real one).

# Sources the figures depend on: editing them redraws the figures (a param, so Snakemake sees it)
FIGURE_CODE = code_version("models", "data", "ensembles.py", "evaluate.py", "generate.py", "metrics", "figures.py",
                           "cli_figures.py")


rule figure_latent:
    input:
        model=f"results/train/{RUN}/model.pt",
        data="results/data/val/manifest.json",
    output:
        pca=report(f"results/figures/{NAME}/latent_pca.png", caption="../report/latent.rst", category="Figures",
                   subcategory="Noise generation (Fig. 7)", labels={"figure": "PCA of z vs z_hf (Fig. 7a)"}),
        pca_pdf=f"results/figures/{NAME}/latent_pca.pdf",
        noise=report(f"results/figures/{NAME}/generated_noise.png", caption="../report/latent.rst", category="Figures",
                     subcategory="Noise generation (Fig. 7)", labels={"figure": "real vs generated noisy (Fig. 7b-c)"}),
        noise_pdf=f"results/figures/{NAME}/generated_noise.pdf",
    log:
        f"logs/figures/{NAME}/figure_latent.log",
    params:
        root=config["data"]["val"],
        image=0,  # the first val image in sorted order (a name works too)
        seed=config["evaluate"]["seed"],
        eps=config["evaluate"]["noise_eps"],
        device=config["evaluate"]["device"],
        out_dir=f"results/figures/{NAME}",
        code=FIGURE_CODE,
    resources:
        gpu=1 if config["evaluate"]["device"].startswith("cuda") else 0,
    priority: 10
    threads: job_threads()
    shell:
        "invdn figure latent --checkpoint {input.model} --data {params.root:q} --image {params.image:q} "
        "--seed {params.seed} --eps {params.eps} --device {params.device} --threads {threads} "
        "--out-dir {params.out_dir} > {log} 2>&1"


rule figure_gallery:
    input:
        model=f"results/train/{RUN}/model.pt",
        data="results/data/val/manifest.json",
    output:
        gallery=report(f"results/figures/{NAME}/gallery.png", caption="../report/gallery.rst", category="Gallery",
                       labels={"figure": "noisy | single | MC | clean"}),
        gallery_pdf=f"results/figures/{NAME}/gallery.pdf",
        residuals=report(f"results/figures/{NAME}/noise_residuals.png", caption="../report/gallery.rst",
                         category="Gallery", labels={"figure": "real vs generated noise"}),
        residuals_pdf=f"results/figures/{NAME}/noise_residuals.pdf",
        panels=report(directory(f"results/figures/{NAME}/gallery"), patterns=["{name}.png"],
                      caption="../report/gallery.rst", category="Gallery", subcategory="Panels",
                      labels={"panel": "{name}"}),
    log:
        f"logs/figures/{NAME}/figure_gallery.log",
    params:
        root=config["data"]["val"],
        images=4,  # spread evenly over the sorted val images
        mc=config["evaluate"]["mc_samples"],
        seed=config["evaluate"]["seed"],
        eps=config["evaluate"]["noise_eps"],
        device=config["evaluate"]["device"],
        out_dir=f"results/figures/{NAME}",
        code=FIGURE_CODE,
    resources:
        gpu=1 if config["evaluate"]["device"].startswith("cuda") else 0,
    priority: 10
    threads: job_threads()
    shell:
        "invdn figure gallery --checkpoint {input.model} --data {params.root:q} --images {params.images} "
        "--mc-samples {params.mc} --seed {params.seed} --eps {params.eps} --device {params.device} "
        "--threads {threads} --out-dir {params.out_dir} > {log} 2>&1"

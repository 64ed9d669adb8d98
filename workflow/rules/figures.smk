# Figures of the first seed's model (not tracked runs: they read the model and the val images only):
# its latent against the prior and the noise it generates (paper §4.6, Fig. 7), and a before/after
# gallery (single draw and MC self-ensemble, with generated noise beside the real one). Figures of
# photographs are JPEG, plots PNG (invdn/reporting/figures.py), which keeps the report under 5 MB.


rule figure_latent:
    input:
        model=P.model.format(seed=FIRST_SEED),
        data=P.val_manifest,
    output:
        pca=report(f"{P.figures}/latent_pca.png", caption="../report/latent.rst", category="Figures",
                   subcategory="Noise generation (Fig. 7)", labels={"figure": "PCA of z vs z_hf (Fig. 7a)"}),
        pca_pdf=f"{P.figures}/latent_pca.pdf",
        noise=report(f"{P.figures}/generated_noise.jpg", caption="../report/latent.rst", category="Figures",
                     subcategory="Noise generation (Fig. 7)", labels={"figure": "real vs generated noisy (Fig. 7b-c)"}),
        noise_pdf=f"{P.figures}/generated_noise.pdf",
    log:
        f"{P.logs}/figures/figure_latent.log",
    params:
        # the first val image in sorted order (a name works too)
        **command(lambda wildcards, input: C.figure_latent(input.model, config["data"]["val"], "0", inference(), P.figures)),
        code=FIGURE_CODE,
    resources:
        **RESOURCES["analysis"],
        gpu=on_gpu(EVAL["device"]),
    conda:
        "../envs/invdn.yaml"
    priority: 10
    threads: job_threads()
    shell:
        "INVDN_THREADS={threads} {params.cmd} > {log} 2>&1"


rule figure_gallery:
    input:
        model=P.model.format(seed=FIRST_SEED),
        data=P.val_manifest,
    output:
        gallery=report(f"{P.figures}/gallery.jpg", caption="../report/gallery.rst", category="Gallery",
                       labels={"figure": "noisy | single | MC | clean"}),
        gallery_pdf=f"{P.figures}/gallery.pdf",
        residuals=report(f"{P.figures}/noise_residuals.jpg", caption="../report/gallery.rst",
                         category="Gallery", labels={"figure": "real vs generated noise"}),
        residuals_pdf=f"{P.figures}/noise_residuals.pdf",
        # every panel as lossless PNG (scores as it shows) with index.json; not in the report, where
        # the two JPEG figures above show the same images (28 more photographs would pass its 5 MB)
        panels=directory(f"{P.figures}/gallery"),
    log:
        f"{P.logs}/figures/figure_gallery.log",
    params:
        # 4 images spread evenly over the sorted val images; the MC column with evaluate.mc_samples
        **command(lambda wildcards, input: C.figure_gallery(input.model, config["data"]["val"], 4, inference("mc"), P.figures)),
        code=FIGURE_CODE,
    resources:
        **RESOURCES["analysis"],
        gpu=on_gpu(EVAL["device"]),
    conda:
        "../envs/invdn.yaml"
    priority: 10
    threads: job_threads()
    shell:
        "INVDN_THREADS={threads} {params.cmd} > {log} 2>&1"

"""The ablation studies (Table 3, Fig. 5a, Fig. 5b, Table 4): each variant over its training seeds, the
difference to the main architecture paired by seed and image, the paper's value beside ours."""
from __future__ import annotations

from pathlib import Path

from mlflow.tracking import MlflowClient

from invdn.reporting import seeds as S
from invdn.reporting.cells import best, by_seed, protocol_text
from invdn.reporting.table import Table, bold
from invdn.reporting.tracked import TableError, load_reference, metrics_row


def _variant_settings(metrics_file: str, checkpoint: str) -> dict:
    """The grid settings of the model a metrics file scored, read from that model file's config."""
    from invdn.config.ablations import base_settings
    from invdn.engine.checkpoint import load

    try:
        config = load(checkpoint)["config"]
    except Exception as e:
        raise TableError(f"{metrics_file}: cannot read the config of its model {checkpoint} ({e})") from None
    return base_settings(config["model"], config["train"])


def _paper_row(study: str, settings: dict, paper: dict | None) -> dict | None:
    """The paper's row of a measured variant: Table 3 by block counts, Table 4 by norms and extra
    losses (Charbonnier, the official "l1", counts as L1)."""
    if not paper:
        return None
    if study == "table3":
        return next((r for r in paper["rows"] if (r["down_blocks"], r["inv_blocks"]) ==
                     (settings["down_blocks"], settings["inv_blocks"])), None)
    norm = {"l1": "l1", "charbonnier": "l1", "l2": "l2"}
    key = (norm[settings["forward_loss"]], norm[settings["backward_loss"]], settings["lambda_gradient"] > 0,
           settings["lambda_ssim"] > 0)
    return next((r for r in paper["rows"] if (r["forward"], r["backward"], r["gradient"], r["ssim"]) == key), None)


def ablation_table(study: str, metrics_files: list[str | Path], reference: str | Path, tracking_uri: str,
                   versus: str | None = None, protocol: str = "canonical") -> Table:
    """One ablation study (``table3``, ``fig5a``, ``fig5b``, ``table4``): each variant's single-draw PSNR
    and SSIM over its training seeds, the difference to the variant ``versus`` (the main architecture;
    default: the first) paired by seed and image, and for Tables 3 and 4 the paper's PSNR and our
    difference to it. The best measured PSNR is bold.

    Raises:
        TableError: a file disagrees with its run, variants scored different images, no common seed
            with ``versus``, or an unknown study.
    """
    from invdn.config.ablations import STUDY_TITLES, Variant, label, variant_name

    if study not in STUDY_TITLES:
        raise TableError(f"unknown study {study!r}; expected one of {', '.join(STUDY_TITLES)}")
    if not metrics_files:
        raise TableError(f"{study} needs at least one metrics file")
    ref = load_reference(reference)
    paper = ref.get(study)
    client = MlflowClient(tracking_uri=tracking_uri)
    variants: dict[str, dict] = {}
    for path in metrics_files:
        run = metrics_row(path, client, protocol)
        settings = _variant_settings(str(path), run["checkpoint"])
        name = variant_name(settings)
        entry = variants.setdefault(name, {"settings": settings, "runs": [],
                                           "label": label(study, Variant(name, tuple(sorted(settings.items())))),
                                           "paper": _paper_row(study, settings, paper)})
        entry["runs"].append(run)
    for name, v in variants.items():
        v["by_seed"] = by_seed(v["runs"], f"{study} variant {name}")
        v["psnr"] = S.summarise({s: r["per_image"] for s, r in v["by_seed"].items()}, name,
                                means={s: r["psnr"] for s, r in v["by_seed"].items()})
        v["ssim"] = S.summarise({s: r["per_image_ssim"] for s, r in v["by_seed"].items()}, name)
    reference_name = versus if versus is not None else next(iter(variants))
    if reference_name not in variants:
        raise TableError(f"{study}: no metrics file scores the variant {reference_name!r} to compare against")
    base = variants[reference_name]
    names = sorted(base["runs"][0]["per_image"])
    for name, v in variants.items():
        for r in v["runs"]:
            if sorted(r["per_image"]) != names:
                raise TableError(f"{r['file']} scored other images than {base['runs'][0]['file']}; "
                                 "the variants must share the val data")
    marks = best([v["psnr"].mean for v in variants.values()], 2)
    header = ["Variant", "PSNR (dB)", "SSIM", f"− {base['label']} (dB)"] + (["Paper", "− paper"] if paper else [])
    cells, csv_rows = [], []
    for i, (name, v) in enumerate(variants.items()):
        diff = None
        if v is not base:
            diff = S.paired({s: r["per_image"] for s, r in v["by_seed"].items()},
                            {s: r["per_image"] for s, r in base["by_seed"].items()}, f"{name} − {reference_name}")
        line = [v["label"], bold(v["psnr"].text(2), marks[i]), f"{v['ssim'].mean:.4f}",
                "--" if diff is None else diff.text(2, signed=True)]
        p = v["paper"]
        if paper:
            uncertain = "" if p is None or p.get("certain", True) else "?"
            line += ["--" if p is None else f"{p['psnr']:.2f}{uncertain}",
                     "--" if p is None else f"{v['psnr'].mean - p['psnr']:+.2f}"]
        cells.append(line)
        csv_rows.append({"study": study, "variant": name, "label": v["label"], **v["settings"],
                         **v["psnr"].to_dict("psnr_"), "ssim": v["ssim"].mean,
                         **(diff.to_dict("diff_") if diff else {}), "paper_psnr": None if p is None else p["psnr"],
                         "train_steps": " ".join(str(r["train_step"]) for r in v["runs"]),
                         "run_ids": " ".join(r["run_id"] for r in v["runs"])})
    first = base["runs"][0]
    steps = sorted({str(r["train_step"]) for v in variants.values() for r in v["runs"]})
    n_seeds = max(v["psnr"].n for v in variants.values())
    paper_note = ""
    if paper:
        paper_note = (f" Paper: {ref['sources'][paper['source']]['citation'].strip()} {paper['where']}, SIDD "
                      "validation, paper scale.")
        if study == "table4":
            paper_note += (" Charbonnier, the official code's \"l1\", is matched to the paper's L1 columns; ? marks a "
                           "column whose losses the extraction left uncertain.")
    caption = (
        f"{STUDY_TITLES[study]}. Measured here: single z draw, {protocol_text(protocol)}, {len(names)} images of "
        f"{first['data_name']}; {first['scale']} scale, {'/'.join(steps)} training iterations. {S.legend(n_seeds)} "
        f"Differences are paired by training seed and image. Bold: best measured PSNR."
        + (" Smoke-scale numbers test the pipeline; they do not rank the variants." if first["scale"] == "smoke" else "")
        + paper_note
    )
    run_ids = ", ".join(r["run_id"] for v in variants.values() for r in v["runs"])
    return Table(header, cells, caption, f"tab:invdn-{study}", f"`invdn table ablation` from MLflow runs {run_ids}",
                 csv_rows, align="p{2.8cm}" + "r" * (len(header) - 1), wide=bool(paper) or n_seeds > 1)

"""The paper's tables, built from what MLflow holds: Table 2, the cost table, the MC self-ensemble
table, Table 5 (AKLD), PGap and the ablation studies (Tables 3, 4 and Fig. 5).

Each builder reads JSON files an ``invdn`` command wrote, checks every number against the MLflow run
the file names (:mod:`invdn.reporting.tracked`), groups the runs of one row (they differ in the
training seed only) and returns a :class:`~invdn.reporting.table.Table`. Paper numbers come from
``results/reference_numbers.yaml``.
"""
from __future__ import annotations

import statistics
from collections import defaultdict
from pathlib import Path

from mlflow.tracking import MlflowClient

from ..metrics.protocols import PROTOCOLS
from . import seeds as S
from .table import Cell, Table, bold
from .tracked import TableError, checked, load_reference, metrics_row, profile_row

_INFERENCE = {"single": "single draw", "mc": "MC-{n}", "x8": "x8", "x8_mc": "x8 × MC-{n}"}


def inference(mode: str, mc_samples: int) -> str:
    """How a table names an inference mode, e.g. ``MC-16``."""
    return _INFERENCE[mode].format(n=mc_samples)


def _fmt(value, digits: int) -> str:
    return "--" if value is None else f"{value:.{digits}f}"


def _best(values: list[float | None], digits: int, lowest: bool = False) -> list[bool]:
    present = [round(v, digits) for v in values if v is not None]
    if not present:
        return [False] * len(values)
    target = min(present) if lowest else max(present)
    return [v is not None and round(v, digits) == target for v in values]


def _by_seed(rows: list[dict], what: str) -> dict[int, dict]:
    """{train seed: run} of the runs of one row (a run without a training seed counts as seed 0)."""
    out: dict[int, dict] = {}
    for r in rows:
        seed = r["train_seed"] if r["train_seed"] is not None else 0
        if seed in out:
            raise TableError(f"{what}: two runs of training seed {seed}: {out[seed]['file']} and {r['file']}")
        out[seed] = r
    return out


def _seed_of(record: dict, index: int) -> int:
    """The training seed of a record (its position when the record names none)."""
    return int(record["train_seed"]) if record.get("train_seed") is not None else index


def _protocol_text(protocol: str) -> str:
    return f"{protocol} protocol ({PROTOCOLS[protocol].description.rstrip('.')})"


# ------------------------------------------------------------------------------------------ Table 2


def _row_key(r: dict) -> tuple:
    return (r["method"], r["released"] or "", r["mode"], r["mc_samples"])


def _row_label(r: dict) -> str:
    if r["method"] != "invdn":
        return f"{r['label']} (measured here)"
    if r["released"]:
        return f"InvDN (released weights {r['released']}, {inference(r['mode'], r['mc_samples'])})"
    return f"InvDN (reproduced here, {inference(r['mode'], r['mc_samples'])})"


def _train_note(r: dict) -> str:
    t = r["train"]
    desc = (f"{t.get('iterations', '?')} iterations, batch {t.get('batch_size', '?')}, "
            f"{t.get('patch_size', '?')}×{t.get('patch_size', '?')} patches, lr {t.get('lr', '?')}")
    extra = []
    if float(t.get("noise_gain_max", 1)) > 1:
        extra.append(f"real noise residual scaled by a random gain in [1, {float(t['noise_gain_max']):g}]")
    if t.get("channel_shuffle") == "True":
        extra.append("random RGB channel permutation")
    return desc + ("; augmentations not in the paper: " + ", ".join(extra) if extra else "")


def table2(metrics_files: list[str | Path], reference: str | Path, tracking_uri: str,
           profile_files: list[str | Path] = (), protocol: str = "canonical") -> Table:
    """Table 2: the paper's rows ("reported") above the rows measured here. Runs that differ in the
    training seed only form one row (across-seed mean, sd and range, and the per-image interval);
    each measured row also shows its PSNR minus the paper's InvDN SIDD PSNR. The best value of each
    column is bold within each block.

    Raises:
        TableError: no metrics file, a file that disagrees with its run, or a profile of another model.
    """
    if not metrics_files:
        raise TableError("table2 needs at least one metrics file")
    ref = load_reference(reference)
    client = MlflowClient(tracking_uri=tracking_uri)
    runs = [metrics_row(f, client, protocol) for f in metrics_files]
    prof = profile_row(profile_files[0], client) if profile_files else None
    reproduced = [r for r in runs if r["method"] == "invdn" and not r["released"]]
    if prof and any(r["num_parameters"] != prof["parameters"] for r in reproduced):
        raise TableError(f"{profile_files[0]}: profiles a model of {prof['parameters']} parameters, not the evaluated one")
    paper = next((r for r in ref["table2"] if r.get("key") == "invdn"), None)
    if paper is None:
        raise TableError(f"{reference}: no table2 entry with key 'invdn'")
    paper_sidd = (paper.get("sidd") or {}).get("psnr")

    groups: dict[tuple, list[dict]] = defaultdict(list)
    for r in runs:
        groups[_row_key(r)].append(r)
    measured = []
    for key, members in groups.items():
        by_seed = _by_seed(members, _row_label(members[0]))
        psnr = S.summarise({s: r["per_image"] for s, r in by_seed.items()}, _row_label(members[0]),
                           means={s: r["psnr"] for s, r in by_seed.items()})
        ssim = S.summarise({s: r["per_image_ssim"] for s, r in by_seed.items()}, _row_label(members[0]),
                           means={s: r["ssim"] for s, r in by_seed.items()})
        measured.append({"first": members[0], "psnr": psnr, "ssim": ssim, "runs": list(by_seed.values())})

    header = ["Method", "Params (M)", "Cost (G)", "DND PSNR", "DND SSIM", "SIDD PSNR", "SIDD SSIM", "− paper"]
    reported = [r for r in ref["table2"] if r.get("key") != "invdn" and r.get("reported", True)] + [paper]
    columns = [("dnd", "psnr", 2), ("dnd", "ssim", 4), ("sidd", "psnr", 2), ("sidd", "ssim", 3)]
    marks = [_best([(r.get(b) or {}).get(k) for r in reported], d) for b, k, d in columns]
    rows, csv_rows = [], []
    for i, r in enumerate(reported):
        cells = [bold(_fmt((r.get(b) or {}).get(k), d), marks[j][i]) for j, (b, k, d) in enumerate(columns)]
        rows.append([r["label"], _fmt(r.get("parameters_m"), 2), _fmt(r.get("infer_gflops_256"), 2), *cells, "--"])
        dnd, sidd = r.get("dnd") or {}, r.get("sidd") or {}
        csv_rows.append({"method": r["label"], "cell": "reported", "parameters_m": r.get("parameters_m"),
                         "cost_g": r.get("infer_gflops_256"), "dnd_psnr": dnd.get("psnr"), "dnd_ssim": dnd.get("ssim"),
                         "psnr": sidd.get("psnr"), "ssim": sidd.get("ssim"), "data": "SIDD benchmark (reported)"})
    psnr_best = _best([m["psnr"].mean for m in measured], 2)
    ssim_best = _best([m["ssim"].mean for m in measured], 4)
    first_measured = len(rows)
    for i, m in enumerate(measured):
        r = m["first"]
        params = _fmt(r["num_parameters"] / 1e6, 2) if r["num_parameters"] else "--"
        cost = _fmt(prof["gmac"], 2) if prof and r in reproduced else "--"
        delta = None if paper_sidd is None else m["psnr"].mean - paper_sidd
        ssim_text = f"{m['ssim'].mean:.4f}" + (f" ± {m['ssim'].sd:.4f}" if m["ssim"].sd is not None else "")
        rows.append([_row_label(r), params, cost, "--", "--", bold(m["psnr"].text(2) + "†", psnr_best[i]),
                     bold(ssim_text + "†", ssim_best[i]), "--" if delta is None else f"{delta:+.2f}"])
        csv_rows.append({"method": _row_label(r), "cell": "measured here",
                         "parameters_m": r["num_parameters"] / 1e6 if r["num_parameters"] else None,
                         "cost_g": prof["gmac"] if prof and r in reproduced else None,
                         **m["psnr"].to_dict("psnr_"), **m["ssim"].to_dict("ssim_"),
                         "psnr_minus_paper_invdn": delta, "protocol": protocol,
                         "data": f"{r['data_name']}, {r['num_images']} images",
                         "run_ids": " ".join(x["run_id"] for x in m["runs"])})

    source = ref["sources"][paper["source"]]
    scales = sorted({r["scale"] for r in reproduced})
    trains = list(dict.fromkeys(_train_note(r) for r in reproduced))
    data = sorted({f"{r['data_name']}, {r['num_images']} images" for r in runs})
    n_seeds = max(m["psnr"].n for m in measured)
    others = [m["first"] for m in measured if m["first"]["method"] != "invdn"]
    released = sorted({r["released"] for r in runs if r["released"]})
    baseline_note = ""
    if others:
        baseline_note = " Baselines measured here, scored on the same images with the same protocol: " + "; ".join(
            f"{r['label']} ({r['method']}, " + (f"trained here at {r['scale']} scale" if r["num_parameters"]
                                                  else "no training") + ")" for r in others) + "."
    cost_note = (
        f"Cost: the paper's Infer-time column (labelled GFLOPs; the official code counts "
        f"{paper['official_code_gmac_256']:.2f} G multiply-adds) vs, for our rows, G multiply-accumulates of one "
        f"forward plus one reverse pass on a {prof['size']}×{prof['size']} image counted by PyTorch's FLOP counter "
        "(convolutions only; 1 MAC = 2 FLOPs)." if prof else
        "Cost (the paper's Infer-time column, GFLOPs) is not measured for our rows.")
    caption = (
        f"InvDN and baselines, reported vs measured here. Reported rows: {source['citation'].strip()} "
        f"{paper['where'].split(',')[0]}, as the paper lists them (other methods' numbers copied by the paper from the "
        "benchmark leaderboards), SIDD and DND benchmark test sets (online servers), no self-ensemble. "
        + (f"Reproduced rows ({', '.join(scales)} scale: {'; '.join(trains)}). " if reproduced else "")
        + (f"Released weights ({', '.join(released)}) are scored as published. " if released else "")
        + f"Measured rows are scored on †{', '.join(data)}, not on the benchmark test sets, with the "
        f"{_protocol_text(protocol)}. {S.legend(n_seeds)} z draws are seeded per image. "
        f"− paper: our mean SIDD PSNR minus the paper's InvDN ({_fmt(paper_sidd, 2)} dB), which compares different "
        f"test data unless ours are the SIDD benchmark. Parameters are counted from the model. {cost_note}{baseline_note}"
        + (" These are smoke-scale numbers, far from the paper's 600k-iteration training: they test the pipeline and "
           "are not comparable with the paper's row." if "smoke" in scales else "")
    )
    run_ids = ", ".join(r["run_id"] for r in runs)
    return Table(header, rows, caption, "tab:invdn-table2", f"`invdn table table2` from MLflow runs {run_ids}",
                 csv_rows, groups={0: f"Reported: {paper['where'].split(',')[0]} of the InvDN paper, benchmark test sets",
                                   first_measured: "Measured here, on the data marked †"},
                 align="p{3.6cm}rrrrrrr", wide=True)


# ---------------------------------------------------------------------------------------- cost table


def cost_rows(reference: str | Path, size: int = 256) -> list[dict]:
    """Parameters and compute of the paper's architectures, computed from the model code: the paper's
    model (Table 2), its two §4.4 variants (squeeze instead of Haar, dense subnets) and every
    architecture of Table 3 (read from the reference file)."""
    from ..models import Architecture
    from ..profile import architecture_cost

    ref = load_reference(reference)
    paper = next((r for r in ref["table2"] if r.get("key") == "invdn"), {})
    specs = [("InvDN (Table 2)", Architecture(), paper),
             ("squeeze (Fig. 5a)", Architecture(transform="squeeze"), {}),
             ("dense subnets (Fig. 5b)", Architecture(subnet="densenet"), {})]
    for r in ref.get("table3", {}).get("rows", []):
        specs.append((f"×{r['scale']}, {r['inv_blocks']} blocks (Tab. 3)",
                      Architecture(down_blocks=r["down_blocks"], inv_blocks=r["inv_blocks"]), {}))
    rows = []
    for label, arch, paper_row in specs:
        cost = architecture_cost(arch, size)
        rows.append({"label": label, "transform": arch.transform, "subnet": arch.subnet,
                     "down_blocks": arch.down_blocks, "inv_blocks": list(arch.blocks_per_scale()), **cost,
                     "paper_parameters_m": paper_row.get("parameters_m"), "paper_cost_g": paper_row.get("infer_gflops_256")})
    return rows


def cost_table(rows: list[dict]) -> Table:
    """The cost table of :func:`cost_rows`."""
    size = rows[0]["size"]
    cells, csv_rows = [], []
    for r in rows:
        paper = "" if r["paper_parameters_m"] is None else f" ({r['paper_parameters_m']:.2f})"
        paper_cost = "" if r["paper_cost_g"] is None else f" ({r['paper_cost_g']:.2f})"
        cells.append([r["label"], f"{r['parameters'] / 1e6:.2f}{paper}", f"{r['gmac']:.2f}{paper_cost}"])
        csv_rows.append({k: ("-".join(map(str, r[k])) if k == "inv_blocks" else r[k]) for k in
                         ("label", "transform", "subnet", "down_blocks", "inv_blocks", "parameters", "gmac", "gflops",
                          "paper_parameters_m", "paper_cost_g")})
    caption = (
        "Parameters and compute of InvDN variants, computed from the model code (the paper's values in "
        f"parentheses). GMAC: multiply-accumulates of one forward plus one reverse pass on a 1×3×{size}×{size} "
        "image (PyTorch's FLOP counter, convolutions only; GFLOPs = 2 × GMAC); the paper's cost column is labelled "
        "GFLOPs. Table 3's block counts are coupling blocks per down-scale block."
    )
    return Table(["Architecture", "Params (M)", "GMAC"], cells, caption, "tab:invdn-cost",
                 "`invdn table cost` from the model code", csv_rows)


# ------------------------------------------------------------------------------------------ MC table


def mc_table(sweep_files: list[str | Path], reference: str | Path, tracking_uri: str) -> Table:
    """The MC self-ensemble table (paper §4.5) from ``invdn mc-sweep`` JSONs, one per training seed.

    Raises:
        TableError: no file, a file that disagrees with its run, or sweeps of other counts or images.
    """
    if not sweep_files:
        raise TableError("the MC table needs at least one mc-sweep file")
    ref = load_reference(reference)
    client = MlflowClient(tracking_uri=tracking_uri)

    def expected(record: dict) -> dict[str, float]:
        return {f"psnr_mc{c['mc_samples']}": c["psnr"] for c in record["curve"]} | {
            f"fraction_improved_mc{c['mc_samples']}": c["fraction_improved"] for c in record["curve"]}

    sweeps, run_ids = {}, []
    for f in sweep_files:
        record, run = checked(f, "mc-sweep", client, expected)
        seed = _seed_of(record, len(sweeps))
        if seed in sweeps:
            raise TableError(f"{f}: a second sweep of training seed {seed}")
        sweeps[seed] = record
        run_ids.append(run.info.run_id)
    first = next(iter(sweeps.values()))
    counts = first["counts"]
    if any(s["counts"] != counts for s in sweeps.values()):
        raise TableError("the mc-sweep files sweep different mc_samples values")
    base = first["baseline_count"]

    def per_image(record: dict, k: int, metric: str = "psnr") -> dict[str, float]:
        return dict(zip(record["names"], record["per_image"][str(k)][metric]))

    summaries = {}
    for k in counts:
        psnr = S.summarise({s: per_image(r, k) for s, r in sweeps.items()}, f"MC-{k}")
        ssim = S.summarise({s: per_image(r, k, "ssim") for s, r in sweeps.items()}, f"MC-{k}")
        gain = None if k == base else S.paired({s: per_image(r, k) for s, r in sweeps.items()},
                                               {s: per_image(r, base) for s, r in sweeps.items()}, f"MC-{k} gain")
        improved = [next(c for c in r["curve"] if c["mc_samples"] == k)["fraction_improved"] for r in sweeps.values()]
        seconds = [next(c for c in r["curve"] if c["mc_samples"] == k)["seconds_per_image"] for r in sweeps.values()]
        summaries[k] = (psnr, ssim, gain, improved, seconds)
    best_psnr = _best([summaries[k][0].mean for k in counts], 2)
    best_ssim = _best([summaries[k][1].mean for k in counts], 4)
    rows, csv_rows = [], []
    for i, k in enumerate(counts):
        psnr, ssim, gain, improved, seconds = summaries[k]
        share = "--" if k == base else f"{100 * statistics.fmean(improved):.1f}%" + (
            f" ± {100 * statistics.stdev(improved):.1f}" if len(improved) > 1 else "")
        ssim_text = f"{ssim.mean:.4f}" + (f" ± {ssim.sd:.4f}" if ssim.sd is not None else "")
        rows.append([str(k), bold(psnr.text(2), best_psnr[i]), bold(ssim_text, best_ssim[i]),
                     "--" if gain is None else gain.text(3, signed=True), share, f"{statistics.fmean(seconds):.2f}"])
        csv_rows.append({"mc_samples": k, **psnr.to_dict("psnr_"), **ssim.to_dict("ssim_"),
                         **(gain.to_dict("gain_") if gain else {}),
                         "fraction_improved": statistics.fmean(improved), "seconds_per_image": statistics.fmean(seconds)})
    paper = ref.get("mc_ensemble")
    paper_note = ""
    if paper:
        here = ""
        if paper["mc_samples"] in summaries:
            here = f"; here {100 * statistics.fmean(summaries[paper['mc_samples']][3]):.1f}%"
        paper_note = (f" Paper ({paper['where']}): {100 * paper['fraction_improved']:.2f}% of SIDD validation images "
                      f"improve with MC-{paper['mc_samples']}{here}.")
    h, w = first["image_size"]
    caption = (
        f"Monte-Carlo self-ensemble: {first['num_images']} images, canonical protocol. MC-k averages the first k of "
        f"{max(counts)} z draws per image (z seed {first['seed']}). {S.legend(len(sweeps))} Gain: paired difference to "
        f"MC-{base}. Improved: share of images whose PSNR beats MC-{base} (mean over seeds). Seconds per image: one "
        f"denoise with k draws of a {h}×{w} image on {first['device']} ({first['threads']} threads). "
        f"Bold: best mean.{paper_note}"
    )
    header = ["k", "PSNR (dB)", "SSIM", f"Gain over MC-{base} (dB)", "Improved", "s/image"]
    return Table(header, rows, caption, "tab:invdn-mc", f"`invdn table mc` from MLflow runs {', '.join(run_ids)}",
                 csv_rows, wide=True)


# ------------------------------------------------------------------------------------------ Table 5


def table5(akld_files: list[str | Path], reference: str | Path, tracking_uri: str) -> Table:
    """Table 5 (AKLD of generated noise): the paper's rows beside the generators measured here
    (InvDN's generator per training seed forms one row; noise models; folders).

    Raises:
        TableError: no file, or a file that disagrees with its run.
    """
    ref = load_reference(reference)
    if "table5" not in ref:
        raise TableError(f"{reference}: no table5 entry")
    if not akld_files:
        raise TableError("table5 needs at least one akld file")
    client = MlflowClient(tracking_uri=tracking_uri)
    paper = ref["table5"]
    lowest = _best([r["akld"] for r in paper["rows"]], 3, lowest=True)
    rows = [[r["method"], bold(f"{r['akld']:.3f}", lowest[i])] for i, r in enumerate(paper["rows"])]
    csv_rows = [{"method": r["method"], "cell": "reported", "akld_mean": r["akld"]} for r in paper["rows"]]
    groups: dict[str, list[tuple[dict, str]]] = defaultdict(list)
    for path in akld_files:
        record, run = checked(path, "akld", client, lambda r: {"akld": r["akld"]})
        groups[record["generator"]].append((record, run.info.run_id))
    measured, run_ids = [], []
    for generator, members in groups.items():
        record = members[0][0]
        per_seed = {_seed_of(r, i): {im["name"]: im["akld"] for im in r["images"]} for i, (r, _) in enumerate(members)}
        run_ids += [run_id for _, run_id in members]
        summary = S.summarise(per_seed, generator, means={_seed_of(r, i): r["akld"] for i, (r, _) in enumerate(members)})
        name = "InvDN" if generator == "invdn" else record.get("label", generator)
        detail = f"L = {record['samples']}" + (f", ε = {record['eps']:g}" if generator == "invdn" else "")
        measured.append((f"{name} ({detail})", summary, record))
    lowest = _best([m[1].mean for m in measured], 4, lowest=True)
    for i, (label, summary, record) in enumerate(measured):
        rows.append([label, bold(summary.text(3, spec="g"), lowest[i])])
        csv_rows.append({"method": record["generator"], "cell": "measured here", **summary.to_dict("akld_"),
                         "samples": record["samples"]})
    first = measured[0][2]
    caption = (
        f"AKLD of generated noisy images (lower is better; the lowest of each block bold; DANet's definition). Reported "
        f"rows: {ref['sources'][paper['source']]['citation'].strip()} {paper['where']}, SIDD validation. Measured rows: "
        f"{first['num_images']} images of {first.get('data', 'the val data')}, seed {first['seed']}. "
        f"{S.legend(max(m[1].n for m in measured))} InvDN generates from the real noisy image (z' = z + ε v) and the "
        "noise models (AWGN, heteroscedastic, multivariate Gaussian; DBSN's) are fitted per image to the real "
        "residual noisy − clean, while the reported methods generate from the clean image only: measured rows are "
        "not like-for-like with the reported ones."
    )
    return Table(["Method", "AKLD"], rows, caption, "tab:invdn-table5",
                 f"`invdn table table5` from MLflow runs {', '.join(run_ids)}", csv_rows,
                 groups={0: "Reported", len(paper["rows"]): "Measured here"}, align="p{3.2cm}r")


# --------------------------------------------------------------------------------------------- PGap


def pgap_table(pgap_files: list[str | Path], tracking_uri: str) -> Table:
    """PGap of each generator (``invdn pgap`` JSONs, one per generator and training seed)."""
    client = MlflowClient(tracking_uri=tracking_uri)
    groups: dict[str, list[dict]] = defaultdict(list)
    run_ids, n = [], set()
    for f in pgap_files:
        record, run = checked(f, "pgap", client, lambda r: {"pgap": r["pgap"], "psnr_real": r["psnr_real"]})
        run_ids.append(run.info.run_id)
        n.add(record["num_images"])
        groups[record["generator"]].append(record)
    rows, csv_rows, n_seeds = [], [], 1
    for generator, records in groups.items():
        per = {_seed_of(r, i): r for i, r in enumerate(records)}
        real = S.summarise({s: {i["name"]: i["psnr_real"] for i in r["images"]} for s, r in per.items()}, generator)
        fake = S.summarise({s: {i["name"]: i["psnr_generated"] for i in r["images"]} for s, r in per.items()}, generator)
        gap = S.paired({s: {i["name"]: i["psnr_real"] for i in r["images"]} for s, r in per.items()},
                       {s: {i["name"]: i["psnr_generated"] for i in r["images"]} for s, r in per.items()}, generator)
        n_seeds = max(n_seeds, gap.n)
        rows.append([generator, f"{real.mean:.2f}", f"{fake.mean:.2f}", gap.text(3)])
        csv_rows.append({"generator": generator, "psnr_real": real.mean, "psnr_generated": fake.mean,
                         **gap.to_dict("pgap_")})
    caption = (
        "PGap (harness protocol): PSNR of the denoiser trained on real pairs minus PSNR of the same denoiser, same "
        "schedule and seed, trained on generated pairs built from the same clean images; canonical protocol, "
        f"{'/'.join(map(str, sorted(n)))} real val images, differences paired by image and training seed. "
        f"{S.legend(n_seeds)} The denoiser is this harness's InvDN training (DANet and PNGAN never specified theirs), "
        "so values are comparable within this harness only. InvDN's generator starts from the real noisy image and is "
        "not like-for-like with clean-to-noisy generators."
    )
    return Table(["Generator", "Real (dB)", "Generated (dB)", "PGap (dB)"], rows, caption, "tab:pgap",
                 f"`invdn table pgap` from MLflow runs {', '.join(run_ids)}", csv_rows)


# ----------------------------------------------------------------------------------------- ablations


def _variant_settings(metrics_file: str, checkpoint: str) -> dict:
    """The grid settings of the model a metrics file scored, read from that model file's config."""
    from ..ablations import base_settings
    from ..checkpoint import load

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
    from ..ablations import STUDY_TITLES, Variant, label, variant_name

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
        v["by_seed"] = _by_seed(v["runs"], f"{study} variant {name}")
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
    best = _best([v["psnr"].mean for v in variants.values()], 2)
    header = ["Variant", "PSNR (dB)", "SSIM", f"− {base['label']} (dB)"] + (["Paper", "− paper"] if paper else [])
    cells, csv_rows = [], []
    for i, (name, v) in enumerate(variants.items()):
        diff = None
        if v is not base:
            diff = S.paired({s: r["per_image"] for s, r in v["by_seed"].items()},
                            {s: r["per_image"] for s, r in base["by_seed"].items()}, f"{name} − {reference_name}")
        line = [v["label"], bold(v["psnr"].text(2), best[i]), f"{v['ssim'].mean:.4f}",
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
        f"{STUDY_TITLES[study]}. Measured here: single z draw, {_protocol_text(protocol)}, {len(names)} images of "
        f"{first['data_name']}; {first['scale']} scale, {'/'.join(steps)} training iterations. {S.legend(n_seeds)} "
        f"Differences are paired by training seed and image. Bold: best measured PSNR."
        + (" Smoke-scale numbers test the pipeline; they do not rank the variants." if first["scale"] == "smoke" else "")
        + paper_note
    )
    run_ids = ", ".join(r["run_id"] for v in variants.values() for r in v["runs"])
    return Table(header, cells, caption, f"tab:invdn-{study}", f"`invdn table ablation` from MLflow runs {run_ids}",
                 csv_rows, align="p{2.8cm}" + "r" * (len(header) - 1), wide=bool(paper) or n_seeds > 1)

"""Tables of the analyses: the MC self-ensemble (paper §4.5), Table 5 (AKLD of generated noise, §4.6)
and PGap, each row over its training seeds."""
from __future__ import annotations

import statistics
from collections import defaultdict
from pathlib import Path

from mlflow.tracking import MlflowClient

from invdn.reporting import seeds as S
from invdn.reporting.cells import best, seed_of
from invdn.reporting.table import Table, bold
from invdn.reporting.tracked import TableError, checked, load_reference


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
        seed = seed_of(record, len(sweeps))
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
    best_psnr = best([summaries[k][0].mean for k in counts], 2)
    best_ssim = best([summaries[k][1].mean for k in counts], 4)
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
                         "fraction_improved": statistics.fmean(improved), "seconds_per_image": statistics.fmean(seconds),
                         "num_images": first["num_images"], "run_ids": " ".join(run_ids)})
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
    lowest = best([r["akld"] for r in paper["rows"]], 3, lowest=True)
    rows = [[r["method"], bold(f"{r['akld']:.3f}", lowest[i])] for i, r in enumerate(paper["rows"])]
    csv_rows = [{"method": r["method"], "cell": "reported", "akld_mean": r["akld"]} for r in paper["rows"]]
    groups: dict[str, list[tuple[dict, str]]] = defaultdict(list)
    for path in akld_files:
        record, run = checked(path, "akld", client, lambda r: {"akld": r["akld"]})
        groups[record["generator"]].append((record, run.info.run_id))
    measured, run_ids = [], []
    for generator, members in groups.items():
        record = members[0][0]
        per_seed = {seed_of(r, i): {im["name"]: im["akld"] for im in r["images"]} for i, (r, _) in enumerate(members)}
        run_ids += [run_id for _, run_id in members]
        summary = S.summarise(per_seed, generator, means={seed_of(r, i): r["akld"] for i, (r, _) in enumerate(members)})
        name = "InvDN" if generator == "invdn" else record.get("label", generator)
        detail = f"L = {record['samples']}" + (f", ε = {record['eps']:g}" if generator == "invdn" else "")
        measured.append((f"{name} ({detail})", summary, record, [run_id for _, run_id in members]))
    lowest = best([m[1].mean for m in measured], 4, lowest=True)
    for i, (label, summary, record, ids) in enumerate(measured):
        rows.append([label, bold(summary.text(3, spec="g"), lowest[i])])
        csv_rows.append({"method": record["generator"], "cell": "measured here", **summary.to_dict("akld_"),
                         "samples": record["samples"], "run_ids": " ".join(ids)})
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
        per = {seed_of(r, i): r for i, r in enumerate(records)}
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

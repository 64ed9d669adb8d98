"""Table 2: the paper's rows (reported) above InvDN, released weights and the baselines measured here."""
from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from mlflow.tracking import MlflowClient

from invdn.reporting import seeds as S
from invdn.reporting.cells import best, by_seed, fmt, inference, protocol_text
from invdn.reporting.table import Table, bold
from invdn.reporting.tracked import TableError, load_reference, metrics_row, profile_row


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


COLUMNS = [("dnd", "psnr", 2), ("dnd", "ssim", 4), ("sidd", "psnr", 2), ("sidd", "ssim", 3)]
HEADER = ["Method", "Params (M)", "Cost (G)", "DND PSNR", "DND SSIM", "SIDD PSNR", "SIDD SSIM", "− paper"]


def _measured(runs: list[dict]) -> list[dict]:
    """The measured rows: runs grouped by what they measure, each row's PSNR and SSIM over its seeds."""
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for r in runs:
        groups[_row_key(r)].append(r)
    measured = []
    for members in groups.values():
        label = _row_label(members[0])
        seeds = by_seed(members, label)
        psnr = S.summarise({s: r["per_image"] for s, r in seeds.items()}, label,
                           means={s: r["psnr"] for s, r in seeds.items()})
        ssim = S.summarise({s: r["per_image_ssim"] for s, r in seeds.items()}, label,
                           means={s: r["ssim"] for s, r in seeds.items()})
        measured.append({"first": members[0], "psnr": psnr, "ssim": ssim, "runs": list(seeds.values())})
    return measured


def _reported_rows(reported: list[dict]) -> tuple[list[list], list[dict]]:
    """The paper's rows (cells and CSV records), the best value of each column bold."""
    marks = [best([(r.get(b) or {}).get(k) for r in reported], d) for b, k, d in COLUMNS]
    rows, csv_rows = [], []
    for i, r in enumerate(reported):
        cells = [bold(fmt((r.get(b) or {}).get(k), d), marks[j][i]) for j, (b, k, d) in enumerate(COLUMNS)]
        rows.append([r["label"], fmt(r.get("parameters_m"), 2), fmt(r.get("infer_gflops_256"), 2), *cells, "--"])
        dnd, sidd = r.get("dnd") or {}, r.get("sidd") or {}
        csv_rows.append({"method": r["label"], "cell": "reported", "parameters_m": r.get("parameters_m"),
                         "cost_g": r.get("infer_gflops_256"), "dnd_psnr": dnd.get("psnr"), "dnd_ssim": dnd.get("ssim"),
                         "psnr": sidd.get("psnr"), "ssim": sidd.get("ssim"), "data": "SIDD benchmark (reported)"})
    return rows, csv_rows


def _measured_rows(measured: list[dict], prof: dict | None, paper_sidd: float | None,
                   protocol: str) -> tuple[list[list], list[dict]]:
    """The rows measured here (cells and CSV records), the best mean PSNR and SSIM bold."""
    psnr_best = best([m["psnr"].mean for m in measured], 2)
    ssim_best = best([m["ssim"].mean for m in measured], 4)
    rows, csv_rows = [], []
    for i, m in enumerate(measured):
        r = m["first"]
        params = fmt(r["num_parameters"] / 1e6, 2) if r["num_parameters"] else "--"
        cost = prof["gmac"] if prof and _reproduced(r) else None
        delta = None if paper_sidd is None else m["psnr"].mean - paper_sidd
        ssim_text = f"{m['ssim'].mean:.4f}" + (f" ± {m['ssim'].sd:.4f}" if m["ssim"].sd is not None else "")
        rows.append([_row_label(r), params, fmt(cost, 2), "--", "--", bold(m["psnr"].text(2) + "†", psnr_best[i]),
                     bold(ssim_text + "†", ssim_best[i]), "--" if delta is None else f"{delta:+.2f}"])
        csv_rows.append({"method": _row_label(r), "cell": "measured here",
                         "parameters_m": r["num_parameters"] / 1e6 if r["num_parameters"] else None, "cost_g": cost,
                         **m["psnr"].to_dict("psnr_"), **m["ssim"].to_dict("ssim_"),
                         "psnr_minus_paper_invdn": delta, "protocol": protocol,
                         "data": f"{r['data_name']}, {r['num_images']} images",
                         "run_ids": " ".join(x["run_id"] for x in m["runs"])})
    return rows, csv_rows


def _reproduced(r: dict) -> bool:
    return r["method"] == "invdn" and not r["released"]


def _caption(ref: dict, paper: dict, runs: list[dict], measured: list[dict], prof: dict | None, protocol: str) -> str:
    """What the table shows and how each number was obtained."""
    reproduced = [r for r in runs if _reproduced(r)]
    scales = sorted({r["scale"] for r in reproduced})
    trains = list(dict.fromkeys(_train_note(r) for r in reproduced))
    data = sorted({f"{r['data_name']}, {r['num_images']} images" for r in runs})
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
    return (
        f"InvDN and baselines, reported vs measured here. Reported rows: "
        f"{ref['sources'][paper['source']]['citation'].strip()} {paper['where'].split(',')[0]}, as the paper lists "
        "them (other methods' numbers copied by the paper from the benchmark leaderboards), SIDD and DND benchmark "
        "test sets (online servers), no self-ensemble. "
        + (f"Reproduced rows ({', '.join(scales)} scale: {'; '.join(trains)}). " if reproduced else "")
        + (f"Released weights ({', '.join(released)}) are scored as published. " if released else "")
        + f"Measured rows are scored on †{', '.join(data)}, not on the benchmark test sets, with the "
        f"{protocol_text(protocol)}. {S.legend(max(m['psnr'].n for m in measured))} z draws are seeded per image. "
        f"− paper: our mean SIDD PSNR minus the paper's InvDN ({fmt((paper.get('sidd') or {}).get('psnr'), 2)} dB), "
        "which compares different test data unless ours are the SIDD benchmark. Parameters are counted from the "
        f"model. {cost_note}{baseline_note}"
        + (" These are smoke-scale numbers, far from the paper's 600k-iteration training: they test the pipeline and "
           "are not comparable with the paper's row." if "smoke" in scales else "")
    )


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
    if prof and any(r["num_parameters"] != prof["parameters"] for r in runs if _reproduced(r)):
        raise TableError(f"{profile_files[0]}: profiles a model of {prof['parameters']} parameters, not the evaluated one")
    paper = next((r for r in ref["table2"] if r.get("key") == "invdn"), None)
    if paper is None:
        raise TableError(f"{reference}: no table2 entry with key 'invdn'")
    reported = [r for r in ref["table2"] if r.get("key") != "invdn" and r.get("reported", True)] + [paper]
    rows, csv_rows = _reported_rows(reported)
    measured = _measured(runs)
    more, more_csv = _measured_rows(measured, prof, (paper.get("sidd") or {}).get("psnr"), protocol)
    run_ids = ", ".join(r["run_id"] for r in runs)
    return Table(HEADER, rows + more, _caption(ref, paper, runs, measured, prof, protocol), "tab:invdn-table2",
                 f"`invdn table table2` from MLflow runs {run_ids}", csv_rows + more_csv,
                 groups={0: f"Reported: {paper['where'].split(',')[0]} of the InvDN paper, benchmark test sets",
                         len(rows): "Measured here, on the data marked †"},
                 align="p{3.6cm}rrrrrrr", wide=True)

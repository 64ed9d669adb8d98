"""The paper's tables as LaTeX (booktabs), built from what MLflow holds.

Each reproduced row is read from the MLflow run named in a metrics JSON, and the two must agree:
a table never shows a number that the tracked run does not hold. Paper numbers come from
``results/reference_numbers.yaml`` only.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

from mlflow.tracking import MlflowClient

from .config import ConfigError, load_yaml
from .stats import Interval, format_ci, latex_ci, paired_difference_ci

TOLERANCE = 1e-9


class TableError(ValueError):
    """Inputs of a table that are missing or disagree; the message names the file and the values."""


def latex_escape(text: str) -> str:
    repl = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
            "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}
    return "".join(repl.get(c, c) for c in text)


def load_reference(path: str | Path) -> dict:
    try:
        ref = load_yaml(path)
    except ConfigError as e:
        raise TableError(str(e)) from None
    if "table2" not in ref or "sources" not in ref:
        raise TableError(f"{path}: expected top-level keys 'sources' and 'table2'")
    return ref


def _tracked_record(path: Path, kind: str) -> tuple[dict, str]:
    """A JSON written by an ``invdn`` command, and the MLflow run id it names."""
    try:
        record = json.loads(path.read_text())
        return record, record["mlflow"]["run_id"]
    except (OSError, json.JSONDecodeError, KeyError, TypeError) as e:
        raise TableError(f"{path}: not a {kind} file with an MLflow run id ({e})") from None


def tracked_row(metrics_file: str | Path, client: MlflowClient) -> dict:
    """One reproduced row: the MLflow run's metrics and params, checked against the metrics JSON.

    Raises:
        TableError: the JSON is unreadable, its run is missing, or a value differs.
    """
    metrics_file = Path(metrics_file)
    record, run_id = _tracked_record(metrics_file, "metrics")
    try:
        run = client.get_run(run_id)
    except Exception as e:
        raise TableError(f"{metrics_file}: MLflow run {run_id} not found in the store ({e})") from None
    metrics, params = run.data.metrics, run.data.params
    for key in ("psnr", "ssim", "num_parameters"):
        tracked = metrics.get(key)
        local = record["num_parameters"] if key == "num_parameters" else record["mean"][key]
        if tracked is None or not math.isclose(tracked, local, rel_tol=0, abs_tol=TOLERANCE):
            raise TableError(f"{metrics_file}: {key} is {local} but MLflow run {run_id} holds {tracked}")
    for key in ("mode", "mc_samples", "seed", "protocol"):
        if params.get(key) != str(record[key]):
            raise TableError(f"{metrics_file}: {key} is {record[key]} but MLflow run {run_id} holds {params.get(key)}")
    return {
        "run_id": run_id,
        "method": record.get("method", "invdn"),
        "label": record.get("label", "InvDN"),
        "psnr": metrics["psnr"],
        "ssim": metrics["ssim"],
        "num_parameters": int(metrics["num_parameters"]),
        "mode": params["mode"],
        "mc_samples": int(params["mc_samples"]),
        "seed": int(params["seed"]),
        "protocol": params["protocol"],
        "scale": run.data.tags.get("scale", "custom"),
        "variant": run.data.tags.get("variant", "custom"),
        "train": {k.removeprefix("train."): v for k, v in params.items() if k.startswith("train.")},
        "data_name": record.get("data_name", record.get("data", "")),
        "num_images": record.get("num_images"),
        "psnr_ci": _interval(metrics, "psnr"),
        "per_image": {i["name"]: i["psnr"] for i in record.get("images", [])},
    }


def _interval(metrics: dict, key: str) -> Interval | None:
    """The tracked 95% interval of ``key`` (metrics ``<key>_ci_low/high``), or None for runs without one."""
    low, high = metrics.get(f"{key}_ci_low"), metrics.get(f"{key}_ci_high")
    if low is None or high is None:
        return None
    return Interval(metrics[key], low, high, 0.95, 0, 0, 0)


def _paired_notes(rows: list[dict]) -> str:
    """Paired PSNR differences of every InvDN row against the first one, on the images both scored."""
    invdn = [r for r in rows if r["method"] == "invdn"]
    notes = []
    for row in invdn[1:]:
        common = [n for n in invdn[0]["per_image"] if n in row["per_image"]]
        if len(common) < 2:
            continue
        diff = paired_difference_ci([row["per_image"][n] for n in common], [invdn[0]["per_image"][n] for n in common])
        notes.append(f"{_inference(row)} minus {_inference(invdn[0])}: {format_ci(diff, 3)} dB")
    if not notes:
        return ""
    return (" Paired PSNR differences on the same images (mean [95% bootstrap interval]): "
            + "; ".join(notes) + ".")


def tracked_profile(profile_file: str | Path, client: MlflowClient) -> dict:
    """An ``invdn profile`` JSON, checked against its MLflow run (GMAC and parameters)."""
    profile_file = Path(profile_file)
    record, run_id = _tracked_record(profile_file, "profile")
    metrics = client.get_run(run_id).data.metrics
    for key in ("gmac", "parameters"):
        if metrics.get(key) is None or not math.isclose(metrics[key], record[key], rel_tol=0, abs_tol=TOLERANCE):
            raise TableError(f"{profile_file}: {key} is {record[key]} but MLflow run {run_id} holds {metrics.get(key)}")
    return {"gmac": metrics["gmac"], "parameters": int(metrics["parameters"]), "size": record["size"], "run_id": run_id}


def _fmt(value: float | None, digits: int) -> str:
    return "--" if value is None else f"{value:.{digits}f}"


_INFERENCE_LABELS = {"single": "single draw", "mc": "MC-{n}", "x8": "x8 geometric", "x8_mc": "x8 geometric x MC-{n}"}


def _inference(row: dict) -> str:
    return _INFERENCE_LABELS[row["mode"]].format(n=row["mc_samples"])


def _row_label(row: dict) -> str:
    if row["method"] != "invdn":
        return f"{row['label']} (measured here)"
    return f"InvDN (reproduced here, {_inference(row)})"


def _baseline_note(row: dict) -> str:
    """How a measured baseline was obtained: trained here (at which scale) or untrained."""
    if row["num_parameters"]:
        return f"{row['method']}, trained here at {row['scale']} scale"
    return f"{row['method']}, no training"


def table2(
    metrics_files: list[str | Path], reference: str | Path, tracking_uri: str, profile_file: str | Path | None = None
) -> str:
    """Table 2: the paper's InvDN row beside the rows reproduced here (one per metrics file).

    ``profile_file`` (an ``invdn profile`` JSON of the reproduced model) fills the cost column of
    the InvDN rows; its parameter count must equal theirs.
    """
    ref = load_reference(reference)
    client = MlflowClient(tracking_uri=tracking_uri)
    rows = [tracked_row(f, client) for f in metrics_files]
    prof = tracked_profile(profile_file, client) if profile_file else None
    if prof and any(r["method"] == "invdn" and r["num_parameters"] != prof["parameters"] for r in rows):
        raise TableError(f"{profile_file}: profiles a model of {prof['parameters']} parameters, not the evaluated one")
    if not rows:
        raise TableError("table2 needs at least one metrics file")
    paper = next((r for r in ref["table2"] if r.get("key") == "invdn"), None)
    if paper is None:
        raise TableError(f"{reference}: no table2 entry with key 'invdn'")
    source = ref["sources"][paper["source"]]

    lines = [
        r"\begin{table}[t]",
        r"\centering",
        r"\small",
        r"\begin{tabular}{lrrcccc}",
        r"\toprule",
        r"Method & Params (M) & Cost (G) & \multicolumn{2}{c}{DND} & \multicolumn{2}{c}{SIDD} \\",
        r"\cmidrule(lr){4-5}\cmidrule(lr){6-7}",
        r" & & & PSNR & SSIM & PSNR & SSIM \\",
        r"\midrule",
        r"\multicolumn{7}{l}{\emph{Reported: " + latex_escape(paper["where"].split(",")[0]) + r" of the InvDN paper, benchmark test sets}} \\",
    ]
    reported = [r for r in ref["table2"] if r.get("key") != "invdn" and r.get("reported", True)] + [paper]
    for r in reported:
        dnd, sidd = r.get("dnd") or {}, r.get("sidd") or {}
        lines.append(" & ".join([
            latex_escape(r["label"]), _fmt(r.get("parameters_m"), 2), _fmt(r.get("infer_gflops_256"), 2),
            _fmt(dnd.get("psnr"), 2), _fmt(dnd.get("ssim"), 4), _fmt(sidd.get("psnr"), 2), _fmt(sidd.get("ssim"), 3),
        ]) + r" \\")
    lines += [r"\midrule", r"\multicolumn{7}{l}{\emph{Measured here, on the data marked $^\dagger$}} \\"]
    for row in rows:
        params = _fmt(row["num_parameters"] / 1e6, 2) if row["num_parameters"] else "--"
        cost = _fmt(prof["gmac"], 2) if prof and row["method"] == "invdn" else "--"
        lines.append(" & ".join([
            latex_escape(_row_label(row)), params, cost, "--", "--",
            (latex_ci(row["psnr_ci"], 2) if row["psnr_ci"] else _fmt(row["psnr"], 2)) + r"$^\dagger$",
            _fmt(row["ssim"], 4) + r"$^\dagger$",
        ]) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}"]

    e = latex_escape
    invdn_rows = [r for r in rows if r["method"] == "invdn"]
    others = [r for r in rows if r["method"] != "invdn"]
    scales = sorted({r["scale"] for r in invdn_rows})
    trains = []
    for r in invdn_rows:
        t = r["train"]
        desc = (f"{t.get('iterations', '?')} iterations, batch {t.get('batch_size', '?')}, "
                f"{t.get('patch_size', '?')}x{t.get('patch_size', '?')} patches, lr {t.get('lr', '?')}")
        extra = []
        if float(t.get("noise_gain_max", 1)) > 1:
            extra.append(f"real noise residual scaled by a random gain in [1, {float(t['noise_gain_max']):g}]")
        if t.get("channel_shuffle") == "True":
            extra.append("random RGB channel permutation")
        if extra:
            desc += "; augmentations not in the paper: " + ", ".join(extra)
        if desc not in trains:
            trains.append(desc)
    data = sorted({f"{r['data_name']}, {r['num_images']} images" for r in rows})
    modes = "; ".join(
        f"{_inference(r)}: seed {r['seed']}" for r in invdn_rows
    )
    baselines = (
        " Baselines measured here, scored on the same images with the same protocol: "
        + e("; ".join(f"{r['label']} ({_baseline_note(r)})" for r in others)) + "."
        if others else ""
    )
    warning = (
        " These are smoke-scale numbers, far from the paper's 600k-iteration training: they test the "
        "pipeline and are not comparable with the paper's row."
        if "smoke" in scales else ""
    )
    cost_note = (
        "Cost: the paper's Infer-time column (labelled GFLOPs; the official code counts "
        f"{paper['official_code_gmac_256']:.2f} G multiply-adds) vs, for our rows, G multiply-accumulates "
        "of one forward plus one reverse pass "
        f"on a {prof['size']}$\\times${prof['size']} image counted by torch.utils.flop_counter "
        "(convolutions only; 1 MAC = 2 FLOPs)."
        if prof else "Cost (the paper's Infer-time column, GFLOPs) is not measured for our rows."
    )
    caption = (
        f"InvDN and baselines, reported vs measured here. Reported rows: {e(source['citation'].strip())} "
        f"{e(paper['where'].split(',')[0])}, as the paper lists them (other methods' numbers copied by the paper from "
        "the benchmark leaderboards), SIDD and DND benchmark test sets (online servers), no self-ensemble. "
        f"Reproduced rows ({e(', '.join(scales))} scale: {e('; '.join(trains))}) are measured on "
        f"$^\\dagger${e(', '.join(data))}, not on the benchmark test sets, with the canonical protocol "
        "(outputs clamped to [0,1] and rounded to uint8; PSNR on RGB; SSIM per RGB channel with an "
        "11$\\times$11 Gaussian window, $\\sigma=1.5$, averaged; no border crop), averaged over images; "
        "PSNR with its 95\\% percentile-bootstrap interval over images in brackets. "
        f"z draws are seeded per image ({e(modes)}).{e(_paired_notes(rows))} Parameters are counted from the "
        f"model. {cost_note}{baselines}{warning}"
    )
    lines += [r"\caption{" + caption + "}", r"\label{tab:invdn-table2}", r"\end{table}", ""]
    run_ids = ", ".join(r["run_id"] for r in rows)
    return f"% Generated by `invdn table2` from MLflow runs {run_ids}; do not edit.\n" + "\n".join(lines)


def cost_rows(reference: str | Path, size: int = 256) -> list[dict]:
    """Parameters and compute of the paper's architectures, computed from the model code.

    Rows: the paper's model (Table 2), its two §4.4 variants (squeeze instead of Haar, dense
    instead of residual subnets) and every architecture of Table 3 (read from the reference file).
    The paper's parameter count and cost are attached to the Table 2 row for comparison.
    """
    from .models import Architecture
    from .profile import architecture_cost

    ref = load_reference(reference)
    paper = next((r for r in ref["table2"] if r.get("key") == "invdn"), {})
    specs = [
        ("InvDN (paper, Table 2)", Architecture(), paper),
        ("squeeze instead of Haar (Fig. 5a)", Architecture(transform="squeeze"), {}),
        ("dense subnets (Fig. 5b)", Architecture(subnet="densenet"), {}),
    ]
    for r in ref.get("table3", {}).get("rows", []):
        arch = Architecture(down_blocks=r["down_blocks"], inv_blocks=r["inv_blocks"])
        specs.append((f"Table 3: x{r['scale']}, {r['inv_blocks']} blocks per scale", arch, {}))
    rows = []
    for label, arch, paper_row in specs:
        cost = architecture_cost(arch, size)
        rows.append({
            "label": label, "transform": arch.transform, "subnet": arch.subnet, "down_blocks": arch.down_blocks,
            "inv_blocks": list(arch.blocks_per_scale()), **cost,
            "paper_parameters_m": paper_row.get("parameters_m"), "paper_cost_g": paper_row.get("infer_gflops_256"),
        })
    return rows


def render(header: list[str], rows: list[list[str]], caption: str, label: str, source: str,
           csv_rows: list[dict] | None = None) -> dict[str, str]:
    """A table as {".tex": LaTeX (booktabs), ".md": Markdown, ".csv": CSV}; ``source`` says what made it.

    Cells are plain text (escaped for LaTeX here); ``csv_rows`` (dicts) replace the cells in the CSV
    when the machine-readable values differ from the printed ones (e.g. unrounded numbers).
    """
    import csv
    import io

    align = "l" + "r" * (len(header) - 1)
    tex = [f"% Generated by {source}; do not edit.", r"\begin{table}[t]", r"\centering", r"\small",
           rf"\begin{{tabular}}{{{align}}}", r"\toprule", " & ".join(latex_escape(h) for h in header) + r" \\",
           r"\midrule"]
    tex += [" & ".join(latex_escape(c) for c in row) + r" \\" for row in rows]
    tex += [r"\bottomrule", r"\end{tabular}", r"\caption{" + latex_escape(caption) + "}", rf"\label{{{label}}}",
            r"\end{table}", ""]
    md = [f"Generated by {source}; do not edit.", "", caption, "", "| " + " | ".join(header) + " |",
          "|" + "---|" * len(header)]
    md += ["| " + " | ".join(row) + " |" for row in rows]
    buf = io.StringIO()
    if csv_rows:
        writer = csv.DictWriter(buf, fieldnames=list(csv_rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(csv_rows)
    else:
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
    return {".tex": "\n".join(tex), ".md": "\n".join(md) + "\n", ".csv": buf.getvalue()}


def _cost_cells(r: dict) -> list[str]:
    paper = "" if r["paper_parameters_m"] is None else f" (paper {r['paper_parameters_m']:.2f})"
    paper_cost = "" if r["paper_cost_g"] is None else f" (paper {r['paper_cost_g']:.2f})"
    return [r["label"], r["transform"], r["subnet"], str(r["inv_blocks"]),
            f"{r['parameters'] / 1e6:.2f}{paper}", f"{r['gmac']:.2f}{paper_cost}", f"{r['gflops']:.2f}"]


def cost_table(rows: list[dict]) -> dict[str, str]:
    """The cost table of ``cost_rows`` as {".tex", ".md", ".csv"}."""
    size = rows[0]["size"]
    caption = (
        "Parameters and compute of InvDN variants, computed from the model code. GMAC: multiply-accumulates "
        f"of one forward plus one reverse pass on a 1x3x{size}x{size} image (torch.utils.flop_counter, "
        "convolutions only; 1 MAC = 2 FLOPs); the paper's cost column is labelled GFLOPs. Coupling blocks are "
        "listed per down-scale block."
    )
    csv_rows = [{k: ("-".join(map(str, r[k])) if k == "inv_blocks" else r[k]) for k in
                 ("label", "transform", "subnet", "down_blocks", "inv_blocks", "parameters", "gmac", "gflops",
                  "paper_parameters_m", "paper_cost_g")} for r in rows]
    header = ["Architecture", "Down-scaling", "Subnet", "Coupling blocks", "Params (M)", "GMAC", "GFLOPs"]
    return render(header, [_cost_cells(r) for r in rows], caption, "tab:invdn-cost", "`invdn cost-table` from the model code",
                  csv_rows)


def _checked(path: str | Path, kind: str, client: MlflowClient, values) -> tuple[dict, str]:
    """A JSON written by an ``invdn`` command, checked against its MLflow run; returns (record, run id).

    ``values(record)`` gives {metric name: value in the JSON}; each must equal the run's metric.

    Raises:
        TableError: unreadable JSON, missing run, or a value that differs.
    """
    path = Path(path)
    record, run_id = _tracked_record(path, kind)
    try:
        metrics = client.get_run(run_id).data.metrics
    except Exception as e:
        raise TableError(f"{path}: MLflow run {run_id} not found in the store ({e})") from None
    for key, local in values(record).items():
        tracked = metrics.get(key)
        if tracked is None or not math.isclose(tracked, local, rel_tol=0, abs_tol=TOLERANCE):
            raise TableError(f"{path}: {key} is {local} but MLflow run {run_id} holds {tracked}")
    return record, run_id


def _ci(interval: dict, digits: int, spec: str = "f") -> str:
    """"mean [low, high]" with ``digits`` decimals (spec "f") or significant digits (spec "g")."""
    return f"{interval['mean']:.{digits}{spec}} [{interval['low']:.{digits}{spec}}, {interval['high']:.{digits}{spec}}]"


def mc_table(sweep_file: str | Path, reference: str | Path, tracking_uri: str) -> dict[str, str]:
    """The MC self-ensemble table (paper §4.5) from an ``invdn mc-sweep`` JSON and its MLflow run."""
    ref = load_reference(reference)
    client = MlflowClient(tracking_uri=tracking_uri)

    def expected(record: dict) -> dict[str, float]:
        return {f"psnr_mc{c['mc_samples']}": c["psnr"] for c in record["curve"]} | {
            f"fraction_improved_mc{c['mc_samples']}": c["fraction_improved"] for c in record["curve"]}

    record, run_id = _checked(sweep_file, "mc-sweep", client, expected)
    base = record["baseline_count"]
    header = ["mc_samples", "PSNR (dB) [95% CI]", "SSIM [95% CI]", f"gain over MC-{base} (dB) [95% CI]",
              f"images improved over MC-{base}", "s/image"]
    rows, csv_rows = [], []
    for c in record["curve"]:
        k = c["mc_samples"]
        gain = "--" if k == base else _ci(c["gain_over_single"], 3)
        improved = "--" if k == base else f"{100 * c['fraction_improved']:.1f}%"
        rows.append([str(k), _ci({**c["psnr_ci"], "mean": c["psnr"]}, 2), _ci({**c["ssim_ci"], "mean": c["ssim"]}, 4),
                     gain, improved, f"{c['seconds_per_image']:.2f}"])
        csv_rows.append({"mc_samples": k, "psnr": c["psnr"], "psnr_low": c["psnr_ci"]["low"], "psnr_high": c["psnr_ci"]["high"],
                         "ssim": c["ssim"], "ssim_low": c["ssim_ci"]["low"], "ssim_high": c["ssim_ci"]["high"],
                         "gain": c["gain_over_single"]["mean"], "gain_low": c["gain_over_single"]["low"],
                         "gain_high": c["gain_over_single"]["high"], "fraction_improved": c["fraction_improved"],
                         "seconds_per_image": c["seconds_per_image"]})
    paper = ref.get("mc_ensemble")
    paper_note = ""
    if paper:
        mine = next((c for c in record["curve"] if c["mc_samples"] == paper["mc_samples"]), None)
        here = f"; here {100 * mine['fraction_improved']:.1f}%" if mine else ""
        paper_note = (f" Paper ({paper['where']}): {100 * paper['fraction_improved']:.2f}% of SIDD validation images "
                      f"improve with MC-{paper['mc_samples']}{here}.")
    h, w = record["image_size"]
    caption = (
        f"Monte-Carlo self-ensemble: mean over {record['num_images']} images, canonical protocol. MC-k averages the "
        f"first k of {max(record['counts'])} z draws per image (seed {record['seed']}); intervals are percentile "
        "bootstrap over images (paired for the gain). Seconds per image: one denoise with k draws of a "
        f"{h}x{w} image on {record['device']} ({record['threads']} threads).{paper_note}"
    )
    return render(header, rows, caption, "tab:invdn-mc", f"`invdn mc-table` from MLflow run {run_id}", csv_rows)


def table5(akld_files: list[str | Path], reference: str | Path, tracking_uri: str) -> dict[str, str]:
    """Table 5 (AKLD of generated noise): the paper's rows ("reported") beside the generators
    measured here, one row per ``invdn akld`` JSON (InvDN's generator, noise models, folders)."""
    ref = load_reference(reference)
    if "table5" not in ref:
        raise TableError(f"{reference}: no table5 entry")
    if not akld_files:
        raise TableError("table5 needs at least one akld file")
    client = MlflowClient(tracking_uri=tracking_uri)
    paper = ref["table5"]
    rows = [[r["method"], "reported", f"{r['akld']:.3f}"] for r in paper["rows"]]
    csv_rows = [{"method": r["method"], "cell": "reported", "akld": r["akld"], "akld_ci_low": None,
                 "akld_ci_high": None, "samples": None, "run_id": None} for r in paper["rows"]]
    measured, run_ids = [], []
    for path in akld_files:
        record, run_id = _checked(path, "akld", client, lambda r: {"akld": r["akld"]})
        run_ids.append(run_id)
        name = "InvDN" if record["generator"] == "invdn" else record.get("label", record["generator"])
        detail = f"L = {record['samples']}" + (f", eps = {record['eps']:g}" if record["generator"] == "invdn" else "")
        rows.append([f"{name} ({detail})", "measured here", _ci(record["akld_ci"] | {"mean": record["akld"]}, 3, "g")])
        csv_rows.append({"method": record["generator"], "cell": "measured here", "akld": record["akld"],
                         "akld_ci_low": record["akld_ci"]["low"], "akld_ci_high": record["akld_ci"]["high"],
                         "samples": record["samples"], "run_id": run_id})
        measured.append(record)
    first = measured[0]
    caption = (
        f"AKLD of generated noisy images (lower is better; DANet's definition). Reported rows: "
        f"{ref['sources'][paper['source']]['citation'].strip()} {paper['where']}, SIDD validation. Measured rows: "
        f"{first['num_images']} images of {first.get('data', 'the val data')}, seed {first['seed']}, "
        "95% bootstrap interval over images. InvDN generates from the real noisy image (z' = z + eps v) and the "
        "noise models (AWGN, heteroscedastic, multivariate Gaussian; DBSN's) are fitted per image to the real "
        "residual noisy - clean, while the reported methods generate from the clean image only: measured rows are "
        "not like-for-like with the reported ones."
    )
    return render(["Method", "Cell", "AKLD"], rows, caption, "tab:invdn-table5",
                  f"`invdn table5` from MLflow runs {', '.join(run_ids)}", csv_rows)


def pgap_table(pgap_files: list[str | Path], tracking_uri: str) -> dict[str, str]:
    """PGap of each generator (``invdn pgap`` JSONs checked against their MLflow runs)."""
    client = MlflowClient(tracking_uri=tracking_uri)
    rows, run_ids, n = [], [], set()
    for f in pgap_files:
        record, run_id = _checked(f, "pgap", client, lambda r: {"pgap": r["pgap"], "psnr_real": r["psnr_real"]})
        run_ids.append(run_id)
        n.add(record["num_images"])
        rows.append([record["generator"], f"{record['psnr_real']:.2f}", f"{record['psnr_generated']:.2f}",
                     _ci(record["pgap_ci"] | {"mean": record["pgap"]}, 3)])
    caption = (
        "PGap (harness protocol): PSNR of the denoiser trained on real pairs minus PSNR of the same denoiser, "
        "same schedule and seed, trained on generated pairs built from the same clean images; canonical protocol, "
        f"{'/'.join(map(str, sorted(n)))} real val images, 95% paired bootstrap interval. The denoiser is this "
        "harness's InvDN training (DANet and PNGAN never specified theirs), so values are comparable within this "
        "harness only. InvDN's generator starts from the real noisy image and is not like-for-like with "
        "clean-to-noisy generators."
    )
    return render(["Generator", "PSNR, trained on real (dB)", "PSNR, trained on generated (dB)", "PGap (dB) [95% CI]"],
                  rows, caption, "tab:pgap", f"`invdn pgap-table` from MLflow runs {', '.join(run_ids)}")

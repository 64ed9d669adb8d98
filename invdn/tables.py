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
        "checkpoint": record.get("checkpoint"),
        "train_step": record.get("train_step"),
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


def _best_cells(values: list[float | None], digits: int) -> list[str]:
    """Formatted values with the largest one(s) as ``Bold``."""
    present = [v for v in values if v is not None]
    best = max(present) if present else None
    return [Bold(_fmt(v, digits)) if v is not None and round(v, digits) == round(best, digits) else _fmt(v, digits)
            for v in values]


def table2(
    metrics_files: list[str | Path], reference: str | Path, tracking_uri: str, profile_file: str | Path | None = None
) -> dict[str, str]:
    """Table 2 as {".tex", ".md", ".csv"}: the paper's rows ("reported") beside the rows measured
    here (one per metrics file), the best value of each column bold within each block, and each
    measured row's PSNR minus the paper's InvDN SIDD PSNR.

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
    columns = [("dnd", "psnr", 2), ("dnd", "ssim", 4), ("sidd", "psnr", 2), ("sidd", "ssim", 3)]
    best = [_best_cells([(r.get(bench) or {}).get(key) for r in reported], digits) for bench, key, digits in columns]
    md_rows, csv_rows = [], []
    paper_sidd = (paper.get("sidd") or {}).get("psnr")
    for i, r in enumerate(reported):
        cells = [c[i] for c in best]
        lines.append(" & ".join([latex_escape(r["label"]), _fmt(r.get("parameters_m"), 2), _fmt(r.get("infer_gflops_256"), 2)]
                                + [_latex_cell(c) for c in cells]) + r" \\")
        md_rows.append([r["label"], "reported", _fmt(r.get("parameters_m"), 2), _fmt(r.get("infer_gflops_256"), 2), *cells, "--"])
        dnd, sidd = r.get("dnd") or {}, r.get("sidd") or {}
        csv_rows.append({"method": r["label"], "cell": "reported", "parameters_m": r.get("parameters_m"),
                         "cost_g": r.get("infer_gflops_256"), "dnd_psnr": dnd.get("psnr"), "dnd_ssim": dnd.get("ssim"),
                         "psnr": sidd.get("psnr"), "psnr_low": None, "psnr_high": None, "ssim": sidd.get("ssim"),
                         "psnr_minus_paper_invdn": None, "data": "SIDD benchmark (reported)", "run_id": None})
    lines += [r"\midrule", r"\multicolumn{7}{l}{\emph{Measured here, on the data marked $^\dagger$}} \\"]
    bold_psnr = [isinstance(c, Bold) for c in _best_cells([r["psnr"] for r in rows], 2)]
    bold_ssim = [isinstance(c, Bold) for c in _best_cells([r["ssim"] for r in rows], 4)]
    for i, row in enumerate(rows):
        params = _fmt(row["num_parameters"] / 1e6, 2) if row["num_parameters"] else "--"
        cost = _fmt(prof["gmac"], 2) if prof and row["method"] == "invdn" else "--"
        psnr_tex = latex_ci(row["psnr_ci"], 2) if row["psnr_ci"] else _fmt(row["psnr"], 2)
        ssim_tex = _fmt(row["ssim"], 4)
        psnr_tex = rf"\textbf{{{psnr_tex}}}" if bold_psnr[i] else psnr_tex
        ssim_tex = rf"\textbf{{{ssim_tex}}}" if bold_ssim[i] else ssim_tex
        lines.append(" & ".join([
            latex_escape(_row_label(row)), params, cost, "--", "--", psnr_tex + r"$^\dagger$", ssim_tex + r"$^\dagger$",
        ]) + r" \\")
        ci = row["psnr_ci"]
        psnr_md = _fmt(row["psnr"], 2) + (f" [{ci.low:.2f}, {ci.high:.2f}]" if ci else "")
        delta = None if paper_sidd is None else row["psnr"] - paper_sidd
        md_rows.append([_row_label(row), "measured here", params, cost, "--", "--",
                        Bold(psnr_md) if bold_psnr[i] else psnr_md,
                        Bold(_fmt(row["ssim"], 4)) if bold_ssim[i] else _fmt(row["ssim"], 4),
                        "--" if delta is None else f"{delta:+.2f}"])
        csv_rows.append({"method": _row_label(row), "cell": "measured here",
                         "parameters_m": row["num_parameters"] / 1e6 if row["num_parameters"] else None,
                         "cost_g": prof["gmac"] if prof and row["method"] == "invdn" else None, "dnd_psnr": None,
                         "dnd_ssim": None, "psnr": row["psnr"], "psnr_low": ci.low if ci else None,
                         "psnr_high": ci.high if ci else None, "ssim": row["ssim"], "psnr_minus_paper_invdn": delta,
                         "data": f"{row['data_name']}, {row['num_images']} images", "run_id": row["run_id"]})
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
    source_note = f"`invdn table2` from MLflow runs {run_ids}"
    header = ["Method", "Cell", "Params (M)", "Cost (G)", "DND PSNR", "DND SSIM", "SIDD PSNR (dB)", "SIDD SSIM",
              f"PSNR minus paper InvDN ({_fmt(paper_sidd, 2)})"]
    md_caption = (
        "InvDN and baselines. Reported rows: the paper's Table 2 (SIDD and DND benchmark test sets). Measured rows: "
        f"{', '.join(data)}, canonical protocol, PSNR with its 95% bootstrap interval; the last column is a measured "
        "PSNR minus the paper's InvDN SIDD PSNR, which compares different test data unless the val set is SIDD's. "
        "Bold: best of a column within its block." + warning
    )
    others_out = render(header, md_rows, md_caption, "tab:invdn-table2", source_note, csv_rows)
    return {".tex": f"% Generated by {source_note}; do not edit.\n" + "\n".join(lines),
            ".md": others_out[".md"], ".csv": others_out[".csv"]}


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


class Bold(str):
    """A table cell printed in bold (LaTeX ``\\textbf``, Markdown ``**``): the best value of a column."""


def _latex_cell(cell: str) -> str:
    return rf"\textbf{{{latex_escape(cell)}}}" if isinstance(cell, Bold) else latex_escape(cell)


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
    tex += [" & ".join(_latex_cell(c) for c in row) + r" \\" for row in rows]
    tex += [r"\bottomrule", r"\end{tabular}", r"\caption{" + latex_escape(caption) + "}", rf"\label{{{label}}}",
            r"\end{table}", ""]
    md = [f"Generated by {source}; do not edit.", "", caption, "", "| " + " | ".join(header) + " |",
          "|" + "---|" * len(header)]
    md += ["| " + " | ".join(f"**{c}**" if isinstance(c, Bold) else c for c in row) + " |" for row in rows]
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
    best_psnr = max(round(c["psnr"], 2) for c in record["curve"])
    best_ssim = max(round(c["ssim"], 4) for c in record["curve"])
    for c in record["curve"]:
        k = c["mc_samples"]
        gain = "--" if k == base else _ci(c["gain_over_single"], 3)
        improved = "--" if k == base else f"{100 * c['fraction_improved']:.1f}%"
        psnr = _ci({**c["psnr_ci"], "mean": c["psnr"]}, 2)
        ssim = _ci({**c["ssim_ci"], "mean": c["ssim"]}, 4)
        rows.append([str(k), Bold(psnr) if round(c["psnr"], 2) == best_psnr else psnr,
                     Bold(ssim) if round(c["ssim"], 4) == best_ssim else ssim,
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
        f"{h}x{w} image on {record['device']} ({record['threads']} threads). Bold: best mean.{paper_note}"
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
    lowest = min(round(r["akld"], 3) for r in paper["rows"])
    rows = [[r["method"], "reported", Bold(f"{r['akld']:.3f}") if round(r["akld"], 3) == lowest else f"{r['akld']:.3f}"]
            for r in paper["rows"]]
    csv_rows = [{"method": r["method"], "cell": "reported", "akld": r["akld"], "akld_ci_low": None,
                 "akld_ci_high": None, "samples": None, "run_id": None} for r in paper["rows"]]
    measured, run_ids, measured_values = [], [], []
    for path in akld_files:
        record, run_id = _checked(path, "akld", client, lambda r: {"akld": r["akld"]})
        run_ids.append(run_id)
        name = "InvDN" if record["generator"] == "invdn" else record.get("label", record["generator"])
        detail = f"L = {record['samples']}" + (f", eps = {record['eps']:g}" if record["generator"] == "invdn" else "")
        rows.append([f"{name} ({detail})", "measured here", _ci(record["akld_ci"] | {"mean": record["akld"]}, 3, "g")])
        measured_values.append(record["akld"])
        csv_rows.append({"method": record["generator"], "cell": "measured here", "akld": record["akld"],
                         "akld_ci_low": record["akld_ci"]["low"], "akld_ci_high": record["akld_ci"]["high"],
                         "samples": record["samples"], "run_id": run_id})
        measured.append(record)
    best = min(measured_values)
    for row, value in zip(rows[len(paper["rows"]):], measured_values):
        if value == best:
            row[2] = Bold(row[2])
    first = measured[0]
    caption = (
        f"AKLD of generated noisy images (lower is better, the lowest of each block bold; DANet's definition). Reported rows: "
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


def _variant_settings(metrics_file: Path, record_checkpoint: str) -> dict:
    """The grid settings of the model a metrics file scored, read from that model file's config."""
    from .ablations import base_settings
    from .checkpoint import load

    try:
        config = load(record_checkpoint)["config"]
    except Exception as e:
        raise TableError(f"{metrics_file}: cannot read the config of its model {record_checkpoint} ({e})") from None
    return base_settings(config["model"], config["train"])


def _paper_row(study: str, settings: dict, paper: dict | None) -> dict | None:
    """The paper's row for a measured variant: Table 3 by block counts, Table 4 by norms and extra
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
                   versus: str | None = None) -> dict[str, str]:
    """One ablation study (``table3``, ``fig5a``, ``fig5b``, ``table4``) as {".tex", ".md", ".csv"}: each
    variant's single-draw PSNR and SSIM (canonical protocol, 95% bootstrap interval over images), the
    paired PSNR difference to the variant named ``versus`` (the main architecture; default: the first file),
    and for Tables 3 and 4 the paper's PSNR and our difference to it. The best measured PSNR is bold.

    Raises:
        TableError: a metrics file disagrees with its MLflow run, two files score different images,
            or a study is unknown.
    """
    from .ablations import STUDY_TITLES, Variant, label, variant_name

    if study not in STUDY_TITLES:
        raise TableError(f"unknown study {study!r}; expected one of {', '.join(STUDY_TITLES)}")
    if not metrics_files:
        raise TableError(f"{study} needs at least one metrics file")
    ref = load_reference(reference)
    paper = ref.get(study)
    client = MlflowClient(tracking_uri=tracking_uri)
    rows = []
    for path in metrics_files:
        row = tracked_row(path, client)
        settings = _variant_settings(Path(path), row["checkpoint"])
        variant = Variant(variant_name(settings), tuple(sorted(settings.items())))
        rows.append({**row, "settings": settings, "label": label(study, variant), "file": str(path),
                     "paper": _paper_row(study, settings, paper)})
    first = rows[0]
    if versus is not None:
        first = next((r for r in rows if variant_name(r["settings"]) == versus), None)
        if first is None:
            raise TableError(f"{study}: no metrics file scores the variant {versus!r} to compare against")
    names = list(first["per_image"])
    for r in rows:
        if sorted(r["per_image"]) != sorted(names):
            raise TableError(f"{r['file']} scored other images than {first['file']}; the variants must share the val data")
    best = max(r["psnr"] for r in rows)
    has_paper = paper is not None
    header = ["Variant", "PSNR (dB) [95% CI]", "SSIM", f"minus {first['label']} (dB) [95% CI]"]
    if has_paper:
        header += ["Paper PSNR (dB)", "Here - paper (dB)"]
    cells, csv_rows = [], []
    for r in rows:
        ci = r["psnr_ci"]
        psnr = f"{r['psnr']:.2f}" + (f" [{ci.low:.2f}, {ci.high:.2f}]" if ci else "")
        diff = None
        if r is not first:
            diff = paired_difference_ci([r["per_image"][n] for n in names], [first["per_image"][n] for n in names])
        line = [r["label"], Bold(psnr) if r["psnr"] == best else psnr, f"{r['ssim']:.4f}",
                "--" if diff is None else format_ci(diff, 3)]
        p = r["paper"]
        if has_paper:
            uncertain = "" if p is None or p.get("certain", True) else " (reading uncertain)"
            line += ["--" if p is None else f"{p['psnr']:.2f}{uncertain}",
                     "--" if p is None else f"{r['psnr'] - p['psnr']:+.2f}"]
        cells.append(line)
        csv_rows.append({"study": study, "variant": variant_name(r["settings"]), "label": r["label"], **r["settings"],
                         "psnr": r["psnr"], "psnr_low": ci.low if ci else None, "psnr_high": ci.high if ci else None,
                         "ssim": r["ssim"], "diff_vs_first": None if diff is None else diff.mean,
                         "diff_low": None if diff is None else diff.low, "diff_high": None if diff is None else diff.high,
                         "paper_psnr": None if p is None else p["psnr"], "train_step": r["train_step"],
                         "run_id": r["run_id"]})
    steps = sorted({str(r["train_step"]) for r in rows})
    paper_note = ""
    if has_paper:
        paper_note = (f" Paper: {ref['sources'][paper['source']]['citation'].strip()} {paper['where']}, SIDD validation"
                      " (scale paper, 600k iterations).")
        if study == "table4":
            paper_note += " Charbonnier, the official code's \"l1\", is matched to the paper's L1 columns."
    caption = (
        f"{STUDY_TITLES[study]}. Measured here: single z draw, canonical protocol (8-bit RGB), mean over "
        f"{len(names)} images of {first['data_name']}, 95% percentile bootstrap intervals over images (paired for the "
        f"differences); {first['scale']} scale, {'/'.join(steps)} training iterations. Bold: best measured PSNR."
        + (" Smoke-scale numbers test the pipeline; they do not rank the variants." if first["scale"] == "smoke" else "")
        + paper_note
    )
    run_ids = ", ".join(r["run_id"] for r in rows)
    return render(header, cells, caption, f"tab:invdn-{study}", f"`invdn ablation-table` from MLflow runs {run_ids}",
                  csv_rows)

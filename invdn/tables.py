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
    }


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


def _inference(row: dict) -> str:
    return "single draw" if row["mode"] == "single" else f"MC-{row['mc_samples']}"


def _row_label(row: dict) -> str:
    if row["method"] != "invdn":
        return f"{row['label']} (measured here)"
    return f"InvDN (reproduced here, {_inference(row)})"


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
        " & ".join([
            latex_escape(paper["label"]), _fmt(paper["parameters_m"], 2), _fmt(paper.get("infer_gflops_256"), 2),
            _fmt(paper["dnd"]["psnr"], 2), _fmt(paper["dnd"]["ssim"], 4),
            _fmt(paper["sidd"]["psnr"], 2), _fmt(paper["sidd"]["ssim"], 3),
        ]) + r" \\",
        r"\midrule",
    ]
    for row in rows:
        params = _fmt(row["num_parameters"] / 1e6, 2) if row["num_parameters"] else "--"
        cost = _fmt(prof["gmac"], 2) if prof and row["method"] == "invdn" else "--"
        lines.append(" & ".join([
            latex_escape(_row_label(row)), params, cost, "--", "--",
            _fmt(row["psnr"], 2) + r"$^\dagger$", _fmt(row["ssim"], 4) + r"$^\dagger$",
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
        " Rows marked ``measured here'' are untrained references scored on the same images with the "
        "same protocol: " + e("; ".join(f"{r['label']} ({r['method']})" for r in others)) + "."
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
        f"InvDN, paper vs reproduced. Paper row: {e(source['citation'].strip())} {e(paper['where'])}, "
        "SIDD and DND benchmark test sets (online servers), no self-ensemble. "
        f"Reproduced rows ({e(', '.join(scales))} scale: {e('; '.join(trains))}) are measured on "
        f"$^\\dagger${e(', '.join(data))}, not on the benchmark test sets, with the canonical protocol "
        "(outputs clamped to [0,1] and rounded to uint8; PSNR on RGB; SSIM per RGB channel with an "
        "11$\\times$11 Gaussian window, $\\sigma=1.5$, averaged; no border crop), averaged over images. "
        f"z draws are seeded per image ({e(modes)}). Parameters are counted from the model. {cost_note}"
        f"{baselines}{warning}"
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


_COST_COLUMNS = ("label", "transform", "subnet", "down_blocks", "inv_blocks", "parameters", "gmac", "gflops",
                 "paper_parameters_m", "paper_cost_g")


def cost_csv(rows: list[dict]) -> str:
    import csv
    import io

    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=_COST_COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for r in rows:
        writer.writerow({**r, "inv_blocks": "-".join(map(str, r["inv_blocks"])),
                         "gmac": f"{r['gmac']:.4f}", "gflops": f"{r['gflops']:.4f}"})
    return buf.getvalue()


def _cost_cells(r: dict) -> list[str]:
    paper = "" if r["paper_parameters_m"] is None else f" (paper {r['paper_parameters_m']:.2f})"
    paper_cost = "" if r["paper_cost_g"] is None else f" (paper {r['paper_cost_g']:.2f})"
    return [r["label"], r["transform"], r["subnet"], str(r["inv_blocks"]),
            f"{r['parameters'] / 1e6:.2f}{paper}", f"{r['gmac']:.2f}{paper_cost}", f"{r['gflops']:.2f}"]


_COST_HEADER = ["Architecture", "Down-scaling", "Subnet", "Coupling blocks", "Params (M)", "GMAC", "GFLOPs"]


def cost_markdown(rows: list[dict]) -> str:
    size = rows[0]["size"]
    lines = ["| " + " | ".join(_COST_HEADER) + " |", "|" + "---|" * len(_COST_HEADER)]
    lines += ["| " + " | ".join(_cost_cells(r)) + " |" for r in rows]
    return (f"Generated by `invdn cost-table` from the model code; do not edit. GMAC: multiply-accumulates of one "
            f"forward plus one reverse pass on a 1x3x{size}x{size} image (torch.utils.flop_counter, convolutions "
            "only; 1 MAC = 2 FLOPs). The paper's cost column is labelled GFLOPs.\n\n" + "\n".join(lines) + "\n")


def cost_latex(rows: list[dict]) -> str:
    size = rows[0]["size"]
    lines = [r"\begin{table}[t]", r"\centering", r"\small", r"\begin{tabular}{lllrrrr}", r"\toprule",
             " & ".join(_COST_HEADER) + r" \\", r"\midrule"]
    lines += [" & ".join(latex_escape(c) for c in _cost_cells(r)) + r" \\" for r in rows]
    caption = (
        "Parameters and compute of InvDN variants, computed from the model code. GMAC: multiply-accumulates "
        f"of one forward plus one reverse pass on a 1$\\times$3$\\times${size}$\\times${size} image "
        "(torch.utils.flop_counter, convolutions only; 1 MAC = 2 FLOPs); the paper's cost column is labelled "
        "GFLOPs. Coupling blocks are listed per down-scale block."
    )
    lines += [r"\bottomrule", r"\end{tabular}", r"\caption{" + caption + "}", r"\label{tab:invdn-cost}",
              r"\end{table}", ""]
    return "% Generated by `invdn cost-table` from the model code; do not edit.\n" + "\n".join(lines)

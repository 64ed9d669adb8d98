"""The cost table: parameters and GMAC of the paper's architectures, computed from the model code."""
from __future__ import annotations

from pathlib import Path

from invdn.reporting.table import Table
from invdn.reporting.tracked import load_reference


def cost_rows(reference: str | Path, size: int = 256) -> list[dict]:
    """Parameters and compute of the paper's architectures, computed from the model code: the paper's
    model (Table 2), its two §4.4 variants (squeeze instead of Haar, dense subnets) and every
    architecture of Table 3 (read from the reference file)."""
    from invdn.models import Architecture
    from invdn.analysis.cost import architecture_cost

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

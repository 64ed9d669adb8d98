"""results/reference_numbers.yaml: loads, every number has a citation, values are plausible.

No paper number is typed here: every expected value is read from the file itself or computed
from the model code.
"""
from __future__ import annotations

import math

import pytest
import yaml

from invdn.config import load_yaml

from helpers import REPO

REFERENCE = REPO / "results" / "reference_numbers.yaml"
PSNR_RANGE = (20, 45)  # dB
SSIM_RANGE = (0.5, 1)
TABLE4_SETTINGS = ("forward_loss", "backward_loss", "lambda_gradient", "lambda_ssim")  # train keys per column
INVDN_KEYS = {"key", "label", "source", "where", "parameters_m", "infer_gflops_256", "official_code_gmac_256",
              "dnd", "sidd"}


@pytest.fixture(scope="module")
def ref() -> dict:
    with open(REFERENCE) as f:
        data = yaml.safe_load(f)
    assert isinstance(data, dict)
    return data


def _sections(ref: dict):
    """(name, section-level source or None, rows) of every table section (everything but `sources`)."""
    for name, section in ref.items():
        if name in ("sources", "recipes"):
            continue
        if isinstance(section, list):
            yield name, None, section
        else:
            assert isinstance(section, dict), name
            yield name, section.get("source"), section.get("rows", [section])


def _metric_values(node, name: str):
    """Every non-null value stored under key ``name`` anywhere inside ``node``.

    Booleans are skipped: in table4, ``ssim`` is a flag (SSIM loss used or not), not an SSIM value.
    """
    if isinstance(node, dict):
        for k, v in node.items():
            if k == name and v is not None and not isinstance(v, (dict, list, bool)):
                yield v
            else:
                yield from _metric_values(v, name)
    elif isinstance(node, list):
        for v in node:
            yield from _metric_values(v, name)


def test_file_loads_with_sources_and_table2(ref):
    assert isinstance(ref["sources"], dict) and ref["sources"]
    assert isinstance(ref["table2"], list) and ref["table2"]
    for key, source in ref["sources"].items():
        assert isinstance(source, dict) and source.get("citation"), key


def test_every_row_names_an_existing_source(ref):
    sources = ref["sources"]
    seen = 0
    for name, section_source, rows in _sections(ref):
        assert rows, name
        for row in rows:
            source = row.get("source", section_source)
            assert source is not None, f"{name}: row {row} names no source"
            assert source in sources, f"{name}: source {source!r} not in sources"
            if "method_source" in row:
                assert row["method_source"] in sources, f"{name}: method_source {row['method_source']!r} not in sources"
            seen += 1
    assert seen > len(ref["table2"])


def test_psnr_and_ssim_are_plausible(ref):
    tables = {k: v for k, v in ref.items() if k != "sources"}
    psnrs, ssims = list(_metric_values(tables, "psnr")), list(_metric_values(tables, "ssim"))
    assert psnrs and ssims
    for v in psnrs:
        assert isinstance(v, (int, float)) and PSNR_RANGE[0] <= v <= PSNR_RANGE[1], v
    for v in ssims:
        assert isinstance(v, (int, float)) and SSIM_RANGE[0] <= v <= SSIM_RANGE[1], v


def test_table2_rows(ref):
    keys = [r["key"] for r in ref["table2"]]
    assert len(keys) == len(set(keys))
    for r in ref["table2"]:
        assert r["key"] == r["key"].lower() and " " not in r["key"], r["key"]
        for dataset in ("dnd", "sidd"):
            assert set(r[dataset]) == {"psnr", "ssim"}, (r["key"], dataset)
        if r["key"] != "invdn":
            assert r["reported"] is True and r["source"] == "invdn2021", r["key"]
            assert r["where"] == f"Table 2, row {r['label']}", r["key"]


def test_invdn_row_is_unchanged(ref):
    """The first table2 row is the paper's InvDN row, with the keys and values other code reads."""
    from invdn.models import Architecture, InvDN
    from invdn.analysis.cost import architecture_cost

    paper = ref["table2"][0]
    assert paper["key"] == "invdn" and [r["key"] for r in ref["table2"]].count("invdn") == 1
    assert set(paper) == INVDN_KEYS
    assert paper["source"] == "invdn2021" and paper["where"] == "Table 2, row Ours"
    for key in ("parameters_m", "infer_gflops_256", "official_code_gmac_256"):
        assert isinstance(paper[key], float) and math.isfinite(paper[key]), key
    for dataset in ("dnd", "sidd"):
        assert all(isinstance(paper[dataset][m], float) for m in ("psnr", "ssim")), dataset
    # Values that can be checked without typing them: the model code's parameter count and cost.
    assert round(InvDN().num_parameters() / 1e6, 2) == paper["parameters_m"]
    assert round(architecture_cost(Architecture(), 256)["gmac"], 2) == paper["official_code_gmac_256"]
    # The paper's claim (§4.3): a new state of the art on the SIDD test set among Table 2's methods.
    others = [r["sidd"]["psnr"] for r in ref["table2"][1:] if r["sidd"]["psnr"] is not None]
    assert others and paper["sidd"]["psnr"] > max(others)


def test_table4_best_row_is_l2_forward_l1_backward(ref):
    t4 = ref["table4"]
    assert t4["source"] == "invdn2021" and t4["where"] == "Table 4" and t4["reading_note"].strip()
    rows = t4["rows"]
    assert len(rows) == 7
    for r in rows:
        assert set(r) == {"forward", "backward", "gradient", "ssim", "psnr", "certain"} | set(TABLE4_SETTINGS)
        assert r["forward"] in ("l1", "l2") and r["backward"] in ("l1", "l2")
        assert all(isinstance(r[k], bool) for k in ("gradient", "ssim", "certain"))
    best_psnr = max(r["psnr"] for r in rows)
    best = [r for r in rows if r["psnr"] == best_psnr]
    assert len(best) == 1
    assert best[0]["forward"] == "l2" and best[0]["backward"] == "l1"
    assert not best[0]["gradient"] and not best[0]["ssim"] and best[0]["certain"]
    # The paper: neither the gradient nor the SSIM loss improves on plain L2/L1.
    assert all(r["psnr"] < best_psnr for r in rows if r["gradient"] or r["ssim"])


def test_table4_rows_carry_train_settings_that_match_their_reading(ref):
    """Each column restated as train keys: the schema accepts them, the losses exist, and they say
    what the column's reading says (the paper's L1/L2 are l1/l2; an extra loss is on iff ticked)."""
    from invdn.config import validate_section
    from invdn.losses import RECONSTRUCTION_LOSSES

    from invdn.pipeline.presets import compose

    official = compose("official-code", root=REPO)["train"]
    settings = []
    for k, r in enumerate(ref["table4"]["rows"], 1):
        train = {key: r[key] for key in TABLE4_SETTINGS}
        assert validate_section("train", train, f"table4 column {k}")  # types, enums, minimum 0
        assert r["forward_loss"] == r["forward"] and r["backward_loss"] == r["backward"], k
        assert {r["forward_loss"], r["backward_loss"]} <= set(RECONSTRUCTION_LOSSES), k
        # The paper publishes no weights; the ticked extra losses use the official code's.
        assert r["lambda_gradient"] == (official["lambda_gradient"] if r["gradient"] else 0), k
        assert r["lambda_ssim"] == (official["lambda_ssim"] if r["ssim"] else 0), k
        settings.append(tuple(train.values()))
    assert len(set(settings)) == len(settings)  # a measured variant matches at most one column


def test_pngan_and_dbsn(ref):
    assert ref["pngan"]["source"] == "pngan2021"
    rows = ref["pngan"]["rows"]
    assert rows and all(set(r) == {"method", "akld", "pgap"} for r in rows)
    assert len({r["method"] for r in rows}) == len(rows)
    # Methods in both PNGAN's table and InvDN's Table 5 carry the same AKLD (the same published values).
    table5 = {r["method"]: r["akld"] for r in ref["table5"]["rows"]}
    common = [r for r in rows if r["method"] in table5]
    assert common
    for r in common:
        assert r["akld"] == table5[r["method"]], r["method"]
    assert "dbsn2020" in ref["sources"]


def test_every_recipe_setting_has_a_value_and_where_it_is_stated(ref):
    """The recipes the presets follow (invdn presets audit): each names a source, each setting a place."""
    assert set(ref["recipes"]) == {"paper", "official-code", "paddle"}
    for name, recipe in ref["recipes"].items():
        assert recipe["source"] in ref["sources"], name
        for setting, entry in recipe["settings"].items():
            assert set(entry) == {"value", "where"} and entry["where"].strip(), (name, setting)
            assert setting.split(".")[0] in ("model", "train", "evaluate", "data"), (name, setting)


def test_an_ablation_study_name_in_the_reference_numbers_is_that_study_table():
    """The ablation tables read ``reference[study]`` (table3, fig5a, fig5b, table4) as the paper's rows:
    no other entry may take such a name."""
    from invdn.config.ablations import STUDY_TITLES

    ref = yaml.safe_load((REPO / "results" / "reference_numbers.yaml").read_text())
    for study in STUDY_TITLES:
        if study in ref:
            assert isinstance(ref[study].get("rows"), list), f"reference_numbers.yaml: {study} must hold the study's rows"

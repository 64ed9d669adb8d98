"""benchmarks/gpu_check.py (``make gpu-check``): its logic at tiny sizes on the CPU, as a GPU run would go."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from helpers import REPO
from invdn.models import InvDN

SCRIPT = REPO / "benchmarks" / "gpu_check.py"


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("gpu_check") / "check.json"
    p = subprocess.run([sys.executable, str(SCRIPT), "--device", "cpu", "--tiny", "--out", str(out)],
                       capture_output=True, text=True, timeout=300, cwd=REPO, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert p.returncode == 0, p.stderr[-2000:]
    return json.loads(out.read_text()), p.stdout


def test_every_section_is_measured_and_printed(tiny_run):
    res, stdout = tiny_run
    assert res["tiny"] and res["device"].startswith("CPU")
    for title in ("1. training step", "2. AMP", "3. MC", "4. torchrun", "5. torch.compile", "6. projected"):
        assert title in stdout
    # batches x memory_saving x {off, bf16} on the CPU, each with a positive step time
    rows = [r for r in res["train"] if "error" not in r]
    assert {(r["batch"], r["memory_saving"], r["amp"]) for r in rows} == {
        (b, s, a) for b in (2, 4) for s in (False, True) for a in ("off", "bf16")}
    assert all(r["s_per_step"] > 0 and r["peak_mib"] is None for r in rows)  # no CUDA peak on a CPU


def test_amp_agrees_with_float32_from_one_init_and_differs_from_it(tiny_run):
    agreement = tiny_run[0]["amp_agreement"]
    off, bf16 = agreement["losses"]["off"], agreement["losses"]["bf16"]
    assert len(off) == len(bf16) == agreement["steps"] == 5
    assert off != bf16  # bf16 autocast really ran
    assert agreement["bf16"]["max_rel_diff"] < 0.05  # one init, same batches: the curves track each other


def test_mc_loop_x8_torchrun_compile_and_projection(tiny_run):
    res = tiny_run[0]
    assert [r["mode"] for r in res["inference"]] == ["mc4 one batch", "mc4 loop of 4", "x8", "single"]
    assert res["torchrun"]["ok"] and res["torchrun"]["backend"] == "gloo" and res["torchrun"]["world"] == 1
    assert res["torchrun"]["gradients"] == InvDN().num_parameters()  # every gradient went through the collective
    compiled = res["compile"]
    assert compiled["backend"] == "eager" and compiled["cuda_graphs"] == "skipped: CUDA only"
    assert compiled["denoise_compile (eager)"]["max_abs_diff_vs_eager"] < 1e-5
    # the recipes' iterations and batches come from results/reference_numbers.yaml
    proj = {(p["recipe"], p["amp"]): p for p in res["projection"]}
    assert set(proj) == {(r, a) for r in ("paper", "official-code") for a in ("off", "bf16")}
    step = next(r["s_per_step"] for r in res["train"] if r["batch"] == 2 and not r["memory_saving"] and r["amp"] == "off")
    p = proj["paper", "off"]
    assert p["hours"] == pytest.approx(p["iterations"] * step / 3600)

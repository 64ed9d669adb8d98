"""Every command the workflow builds is one the `invdn` command line accepts, with the values the rule
meant: each built command is parsed by the real click commands (nothing runs)."""
from __future__ import annotations

import shlex

import click
import pytest

from invdn.cli import main
from invdn.inference.config import InferenceConfig
from invdn.pipeline import commands as C

JOB = C.Job("--tracking-uri sqlite:///x.db --experiment e", "evaluate", {"seed": 1, "mode": "mc"}, "abc123")
MC = InferenceConfig("mc", 8, 3, "cpu", "bf16", 1e-3)


def parse(command: str) -> tuple[click.Command, dict]:
    """The click command a shell command line calls and the values it would receive."""
    words = shlex.split(command)
    assert words[0] == "invdn", command
    group, args = main, words[1:]
    while isinstance(group, click.Group):
        group, args = group.commands[args[0]], args[1:]
    ctx = group.make_context(group.name, args)
    return group, ctx.params


def test_evaluate_passes_every_inference_setting():
    cmd, params = parse(C.evaluate("m.pt", "val", "SIDD val", MC, "out.json", JOB, save_samples=2, max_images=4,
                                   released="official"))
    assert cmd.name == "evaluate"
    assert (params["mode"], params["mc_samples"], params["seed"], params["device"], params["precision"]) == (
        "mc", 8, 3, "cpu", "bf16")
    assert (params["released"], params["save_samples"], params["max_images"]) == ("official", 2, 4)
    assert set(params["tags"]) == {"snakemake_rule=evaluate", "wildcards=seed=1,mode=mc", "code_version=abc123"}


def test_train_quotes_its_run_config_and_resumes():
    run = {"name": "x y", "train": {"processes": 1, "seed": 3}}
    cmd, params = parse(C.train(run, "results/a b", JOB))
    assert cmd.name == "train" and params["resume"] and params["code_version"] == "abc123"
    assert params["config_json"] == '{"name": "x y", "train": {"processes": 1, "seed": 3}}'
    assert C.train({"train": {"processes": 4}}, "o", JOB).startswith("torchrun --standalone --nproc_per_node 4 -m invdn.cli train")


@pytest.mark.parametrize("built", [
    C.mlflow_init(JOB, "m.json"), C.validate_data("d", "m.json", 4),
    C.register_model(["s0/single.json", "s1/single.json"], "invdn", "smoke", "r.json", JOB),
    C.evaluate_baseline("nlm", None, "val", "v", "cpu", "o.json", JOB, 1),
    C.evaluate_baseline("dncnn", "m.pt", "val", "v", "cpu", "o.json", JOB),
    C.profile("m.pt", "cpu", "p.json", JOB), C.mc_sweep("m.pt", "val", [1, 2, 4], MC, "s.json", JOB),
    C.akld("m.pt", "val", 4, MC, "a.json", JOB), C.akld("awgn", "val", 4, MC, "a.json", JOB, noise_model=True),
    C.generate_pairs("m.pt", "invdn", "train", "out", MC), C.generate_pairs(None, "awgn", "train", "out", MC),
    C.pgap("r.json", "g.json", "invdn", "p.json", JOB),
    C.table("table2", {"--metrics": ["a.json", "b.json"], "--profile": ["p.json"]}, "t/table2", "sqlite:///x.db",
            {"--reference": "ref.yaml", "--protocol": "y_crop4"}),
    C.table("ablation", {"--metrics": ["a.json"]}, "t/table3", "sqlite:///x.db",
            {"--study": "table3", "--reference": "r.yaml", "--versus": "v"}),
    C.table("cost", {}, "t/cost", None, {"--reference": "r.yaml"}),
    C.figure_curves({"haar": "a.pt", "squeeze (seed 1)": "b.pt"}, "Fig. 5a", "f/fig5a", "sqlite:///x.db"),
    C.figure_latent("m.pt", "val", "0", MC, "figs"), C.figure_gallery("m.pt", "val", 4, MC, "figs"),
    C.prepare_sidd_medium("raw", "patches", 512, 100, None, 0), C.prepare_sidd_val("n.mat", "g.mat", "val"),
    C.submit_sidd("m.pt", "b.mat", [40, 32], MC, "sub"), C.submit_dnd("m.pt", "dnd", 50, MC, "sub"),
])
def test_every_built_command_parses(built):
    cmd, params = parse(built)
    assert params, built


def test_a_misspelt_option_would_be_caught():
    with pytest.raises(click.UsageError):
        parse("invdn evaluate --checkpoint m.pt --data v --out o.json --mc-sample 3")

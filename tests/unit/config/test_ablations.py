"""The ablation grid as data (invdn/ablations.py): studies expand into named, shared variants."""
import pytest
import yaml

from helpers import REPO
from invdn.config.ablations import AblationError, all_variants, base_settings, expand, label
from invdn.pipeline.plan import ablation_run, is_main_run

MODEL = {"channels": 3, "down_blocks": 2, "inv_blocks": 8, "transform": "haar", "subnet": "resnet", "clamp": 1.0}
TRAIN = {"iterations": 100, "forward_loss": "l2", "backward_loss": "charbonnier", "lambda_gradient": 0.0,
         "lambda_ssim": 0.0, "lr": 1e-3}
PAPER_GRID = {
    "table3": {"down_blocks": [1, 2, 3], "inv_blocks": [8, 16]},
    "fig5a": {"transform": ["haar", "squeeze"]},
    "fig5b": {"subnet": ["resnet", "densenet"]},
    "table4": [{"forward_loss": "charbonnier", "backward_loss": "charbonnier"},
               {"forward_loss": "l2", "backward_loss": "charbonnier"},
               {"forward_loss": "l2", "backward_loss": "charbonnier", "lambda_gradient": 0.1, "lambda_ssim": 1.0}],
}


def test_the_paper_grid_expands_and_shares_the_main_variant():
    studies = expand(PAPER_GRID, MODEL, TRAIN)
    assert [len(studies[s]) for s in ("table3", "fig5a", "fig5b", "table4")] == [6, 2, 2, 3]
    main = "down2-inv8-haar-resnet-fwd_l2-bwd_charbonnier"
    for variants in studies.values():
        assert main in [v.name for v in variants]
    # 6 + 1 + 1 + 2 distinct models: the main architecture is trained once for all four studies
    assert len(all_variants(studies)) == 10
    assert "down2-inv8-haar-resnet-fwd_l2-bwd_charbonnier-grad0.1-ssim1" in [v.name for v in studies["table4"]]


def test_editing_one_value_changes_only_the_variants_it_touches():
    before = {v.name for v in all_variants(expand(PAPER_GRID, MODEL, TRAIN))}
    edited = {**PAPER_GRID, "table4": [*PAPER_GRID["table4"][:2], {**PAPER_GRID["table4"][2], "lambda_gradient": 0.2}]}
    after = {v.name for v in all_variants(expand(edited, MODEL, TRAIN))}
    assert after - before == {"down2-inv8-haar-resnet-fwd_l2-bwd_charbonnier-grad0.2-ssim1"}
    assert before - after == {"down2-inv8-haar-resnet-fwd_l2-bwd_charbonnier-grad0.1-ssim1"}


def test_run_config_puts_ablations_train_and_the_variant_over_the_main_sections():
    config = {"name": "smoke", "scale": "smoke", "data": {"train": "a", "val": "b"}, "model": MODEL,
              "train": {**TRAIN, "seeds": [0, 1]}, "ablations": {"train": {"iterations": 60}, **PAPER_GRID}}
    studies = expand(config["ablations"], MODEL, TRAIN)
    squeeze = next(v for v in studies["fig5a"] if v.get("transform") == "squeeze")
    cfg = ablation_run(config, squeeze, 1)
    assert cfg["model"]["transform"] == "squeeze" and cfg["model"]["clamp"] == 1.0
    assert cfg["train"]["iterations"] == 60 and cfg["train"]["lr"] == 1e-3 and cfg["train"]["seed"] == 1
    assert "seeds" not in cfg["train"] and cfg["name"] == "smoke-" + squeeze.name
    main = next(v for v in studies["fig5a"] if v.get("transform") == "haar")
    assert not is_main_run(config, main, 0)  # a shorter schedule: its own training
    same = {**config, "ablations": {"train": {}}}
    assert is_main_run(same, main, 0) and is_main_run(same, main, 1)  # the main run of that seed stands in
    assert not is_main_run(same, main, 2)  # a seed the main run does not have
    assert not is_main_run(same, squeeze, 0)


def test_labels_name_what_the_study_varies():
    studies = expand(PAPER_GRID, MODEL, TRAIN)
    assert [label("table3", v) for v in studies["table3"]][:2] == ["down 1, inv 8", "down 1, inv 16"]
    assert [label("fig5a", v) for v in studies["fig5a"]] == ["haar", "squeeze"]
    assert label("table4", studies["table4"][2]) == "L2 / Charbonnier + 0.1 gradient + 1 SSIM"


def test_a_study_may_list_its_cells():
    cells = [{"down_blocks": 1, "inv_blocks": 8}, {"down_blocks": 3, "inv_blocks": 8}]
    assert [v.name[:10] for v in expand({"table3": cells}, MODEL, TRAIN)["table3"]] == ["down1-inv8", "down3-inv8"]


def test_unknown_settings_and_uneven_block_counts_are_refused():
    with pytest.raises(AblationError, match=r"ablations.fig5a: unknown setting\(s\) clamp"):
        expand({"fig5a": {"clamp": [1.0, 2.0]}}, MODEL, TRAIN)
    with pytest.raises(AblationError, match="inv_blocks"):
        base_settings({**MODEL, "inv_blocks": [8, 4]}, TRAIN)


@pytest.mark.parametrize("preset", ["smoke", "paper"])
def test_the_presets_grids_hold_every_study_with_the_main_setting(preset):
    from invdn.pipeline.plan import studies as plan_studies
    from invdn.pipeline.presets import compose

    studies = plan_studies(compose(preset, root=REPO))
    assert set(studies) == {"table3", "fig5a", "fig5b", "table4"}
    main = "down2-inv8-haar-resnet-fwd_l2-bwd_charbonnier"
    assert all(main in [v.name for v in vs] for vs in studies.values())
    assert len(studies["table3"]) == {"paper": 6, "smoke": 4}[preset]
    assert len(studies["table4"]) == {"paper": 7, "smoke": 3}[preset]

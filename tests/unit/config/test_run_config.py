import jsonschema
import pytest
import torch

from invdn.config import ConfigError, load_yaml, run_config, schema, validate_section

from helpers import REPO, tiny_run_config

def test_every_preset_is_valid_as_snakemake_and_the_command_line_read_it():
    from invdn.config import validate_workflow
    from invdn.pipeline import plan
    from invdn.pipeline.presets import compose, preset_names

    assert {"smoke", "paper", "official-code", "paddle", "released"} <= set(preset_names(REPO))
    for name in preset_names(REPO):
        raw = validate_workflow(compose(name, root=REPO), name)  # the whole config, as Snakemake's validate
        for seed in plan.main_seeds(raw):  # each run as the command line builds it
            cfg = run_config(plan.invdn_run(raw, seed), name)
            assert cfg.train.iterations >= 1 and cfg.train.seed == seed
        for section in ("evaluate", "mlflow"):
            validate_section(section, raw[section], name)


def test_defaults_are_filled_from_the_schema(tiny_data):
    cfg = run_config(tiny_run_config(tiny_data))
    assert cfg.train.lr == 2e-4 and cfg.train.lambda_forward == 16 and cfg.train.backward_loss == "charbonnier"
    assert cfg.model.transform == "haar" and cfg.model.clamp == 1.0


def test_wrong_type_names_the_key_and_source(tiny_data):
    raw = tiny_run_config(tiny_data, batch_size="eight")
    with pytest.raises(ConfigError, match=r"my.yaml: invalid configuration\n  train.batch_size: 'eight' is not of type 'integer'"):
        run_config(raw, "my.yaml")


def test_unknown_key_and_unknown_variant(tiny_data):
    raw = tiny_run_config(tiny_data, learning_rate=1e-3)
    with pytest.raises(ConfigError, match="train: Additional properties are not allowed .'learning_rate'"):
        run_config(raw)
    raw = tiny_run_config(tiny_data)
    raw["model"]["subnet"] = "unet"
    with pytest.raises(ConfigError, match="model.subnet: 'unet' is not one of"):
        run_config(raw)


def test_missing_section_and_bad_yaml(tmp_path, tiny_data):
    raw = tiny_run_config(tiny_data)
    del raw["data"]
    with pytest.raises(ConfigError, match="missing section.s. data"):
        run_config(raw, "x.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("train: [1, 2\n")
    with pytest.raises(ConfigError, match="bad.yaml: not valid YAML"):
        load_yaml(bad)


def test_trajectory_hash_ignores_runtime_settings(tiny_data):
    a = run_config(tiny_run_config(tiny_data))
    b = run_config(tiny_run_config(tiny_data, iterations=99, device="cpu", threads=2, val_every=3))
    c = run_config(tiny_run_config(tiny_data, lr=1e-3))
    assert a.trajectory_hash() == b.trajectory_hash() != c.trajectory_hash()


# trajectory_hash of _FIXED as written by the code before train.lambda_gradient and train.lambda_ssim
# existed (computed then): checkpoints carry it, and a resume refuses any other hash.
_FIXED = {"data": {"train": "t", "val": "v"}, "model": {}, "train": {}}
_HASH_BEFORE_EXTRA_LOSSES = "f90fcfb3f1b9b93333bb15fce40bfd72045c3061f76dc1ff8160154c6b08089c"


def test_extra_loss_keys_at_zero_keep_the_hash_of_older_checkpoints():
    assert run_config(_FIXED).trajectory_hash() == _HASH_BEFORE_EXTRA_LOSSES
    explicit = {**_FIXED, "train": {"lambda_gradient": 0.0, "lambda_ssim": 0}}
    assert run_config(explicit).trajectory_hash() == _HASH_BEFORE_EXTRA_LOSSES
    hashes = {run_config({**_FIXED, "train": extra}).trajectory_hash()
              for extra in ({"lambda_gradient": 0.1}, {"lambda_ssim": 0.1}, {"lambda_gradient": 0.1, "lambda_ssim": 1.0})}
    assert len(hashes) == 3 and _HASH_BEFORE_EXTRA_LOSSES not in hashes


def test_extra_loss_weights_reach_the_objective(tiny_data):
    from invdn.engine.trainer import invdn_task

    cfg = run_config(tiny_run_config(tiny_data, lambda_gradient=0.1, lambda_ssim=1.0, backward_loss="l1"))
    task = invdn_task(cfg)
    g = torch.Generator().manual_seed(0)
    batch = {"noisy": torch.rand(1, 3, 16, 16, generator=g), "clean": torch.rand(1, 3, 16, 16, generator=g),
             "lq": torch.rand(1, 3, 4, 4, generator=g)}
    out = task.loss(batch, torch.Generator().manual_seed(1))
    assert set(out) == {"forward", "backward", "gradient", "ssim", "total"}
    assert torch.allclose(out["total"], out["forward"] + out["backward"] + out["gradient"] + out["ssim"])


@pytest.mark.parametrize("transform,subnet", [("squeeze", "resnet"), ("haar", "densenet")])
def test_ablation_variants_are_accepted_by_the_schema(tiny_data, transform, subnet):
    raw = tiny_run_config(tiny_data)
    raw["model"].update(transform=transform, subnet=subnet)
    cfg = run_config(raw)
    assert (cfg.model.transform, cfg.model.subnet) == (transform, subnet)

import pytest

from invdn.config import ConfigError, load_yaml, run_config, validate_section

from conftest import REPO, tiny_run_config


@pytest.mark.parametrize("name", ["smoke", "paper"])
def test_shipped_configs_are_valid(name):
    raw = load_yaml(REPO / "workflow" / "config" / f"{name}.yaml")
    cfg = run_config(raw, name)
    assert cfg.train.iterations >= 1
    for section in ("evaluate", "mlflow"):
        validate_section(section, raw[section])


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


@pytest.mark.parametrize("transform,subnet", [("squeeze", "resnet"), ("haar", "densenet")])
def test_ablation_variants_are_accepted_by_the_schema(tiny_data, transform, subnet):
    raw = tiny_run_config(tiny_data)
    raw["model"].update(transform=transform, subnet=subnet)
    cfg = run_config(raw)
    assert (cfg.model.transform, cfg.model.subnet) == (transform, subnet)

"""InferenceConfig: one typed setting for every command and task that denoises or generates."""
import pytest

from invdn.inference.config import InferenceConfig
from invdn.inference.modes import Mode


def test_modes_and_draws():
    assert InferenceConfig("mc", 8).draws == 8 and InferenceConfig("x8_mc", 8).draws == 8
    assert InferenceConfig("single", 8).draws == 1 and InferenceConfig(Mode.X8, 8).draws == 1
    assert InferenceConfig("mc", 8).to_dict()["mode"] == "mc"


@pytest.mark.parametrize("kwargs, message", [
    ({"mode": "mcmc"}, "mcmc"), ({"mc_samples": 0}, "mc_samples must be >= 1"),
    ({"precision": "fp8"}, "precision must be one of float32, bf16"), ({"eps": -1.0}, "eps must be >= 0"),
])
def test_bad_settings_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        InferenceConfig(**kwargs)

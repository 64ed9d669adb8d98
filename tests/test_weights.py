import pickle

import pytest
import torch
from click.testing import CliRunner

from invdn.checkpoint import load_model
from invdn.cli import main
from invdn.models import Architecture, InvDN
from invdn.models.weights import WeightsError, import_weights, read_pdparams


@pytest.fixture
def trained_like():
    torch.manual_seed(0)
    return InvDN(inv_blocks=2).eval()


def _same_outputs(a: InvDN, b: InvDN) -> None:
    x = torch.rand(1, 3, 16, 16, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        la, lb = a(x), b(x)
        z = torch.randn(la.shape, generator=torch.Generator().manual_seed(2))
        assert torch.equal(la, lb) and torch.equal(a(z, rev=True), b(z, rev=True))


def test_official_state_dict_with_module_prefix_round_trips(trained_like, tmp_path):
    path = tmp_path / "InvDN_ResUnit_x4.pth"
    torch.save({f"module.{k}": v for k, v in trained_like.state_dict().items()}, path)
    imported = import_weights(path, Architecture(inv_blocks=2))
    _same_outputs(trained_like, imported)


@pytest.mark.parametrize("layout", ["paddle.save", "ppgan"])
def test_pdparams_round_trip(trained_like, tmp_path, layout):
    path = tmp_path / "InvDN_ResUnit_x4.pdparams"
    arrays = {k: v.numpy() for k, v in trained_like.state_dict().items()}
    if layout == "paddle.save":  # protocol 4, Paddle's bookkeeping entry beside the arrays
        obj, protocol = {**arrays, "StructuredToParameterName@@": {k: k for k in arrays}}, 4
    else:  # PaddleGAN's trainer: protocol 2, arrays under "generator"
        obj, protocol = {"generator": arrays}, 2
    with path.open("wb") as f:
        pickle.dump(obj, f, protocol=protocol)
    assert set(read_pdparams(path)) == set(trained_like.state_dict())
    _same_outputs(trained_like, import_weights(path, Architecture(inv_blocks=2)))


class _Exploit:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        import os

        return (os.system, (f"touch {self.marker}",))


def test_malicious_pdparams_is_refused_without_running_code(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pdparams"
    with path.open("wb") as f:
        pickle.dump({"operations.1.F.conv1.weight": _Exploit(marker)}, f)
    with pytest.raises(WeightsError, match=r"evil.pdparams: not a plain .pdparams file .*refused to load .*system"):
        read_pdparams(path)
    assert not marker.exists()


def test_every_bad_key_is_listed(trained_like, tmp_path):
    state = trained_like.state_dict()
    state.pop("operations.1.F.conv1.weight")
    state["operations.99.extra"] = torch.zeros(1)
    state["operations.2.G.conv3.bias"] = torch.zeros(5)
    path = tmp_path / "bad.pth"
    torch.save(state, path)
    with pytest.raises(WeightsError) as err:
        import_weights(path, Architecture(inv_blocks=2))
    msg = str(err.value)
    assert "bad.pth: weights do not fit InvDN" in msg
    assert "missing (1): operations.1.F.conv1.weight" in msg and "unexpected (1): operations.99.extra" in msg
    assert "wrong shape (1): operations.2.G.conv3.bias: file (5,), model (9,)" in msg
    with pytest.raises(WeightsError, match="do not fit"):
        import_weights(path)  # the paper's 2 x 8 architecture: many blocks missing


def test_cli_import_then_load(trained_like, tmp_path):
    src = tmp_path / "official.pth"
    torch.save(trained_like.state_dict(), src)
    out = tmp_path / "model.pt"
    r = CliRunner().invoke(main, ["import-weights", str(src), "--out", str(out), "--inv-blocks", "2"])
    assert r.exit_code == 0, r.output
    model, state = load_model(out)
    assert state["source"] == str(src)
    _same_outputs(trained_like, model)
    r = CliRunner().invoke(main, ["import-weights", str(src), "--out", str(out)])
    assert r.exit_code == 1 and "missing (" in r.output


def test_denoise_command_writes_same_named_pngs_for_odd_sizes(trained_like, tmp_path):
    from PIL import Image

    model_path = tmp_path / "m.pt"
    torch.save({"format": "invdn-repro/model/1", "arch": trained_like.arch.to_dict(), "model": trained_like.state_dict()}, model_path)
    src = tmp_path / "in"
    src.mkdir()
    rng = torch.Generator().manual_seed(0)
    for name, (h, w) in {"a": (18, 21), "b": (16, 16)}.items():
        Image.fromarray((torch.rand(h, w, 3, generator=rng) * 255).byte().numpy()).save(src / f"{name}.png")
    for extra in ([], ["--x8", "--mc-samples", "2"]):
        out = tmp_path / ("x8" if extra else "mc")
        r = CliRunner().invoke(main, ["denoise", str(src), "--checkpoint", str(model_path), "--out", str(out), *extra])
        assert r.exit_code == 0, r.output
        assert Image.open(out / "a.png").size == (21, 18) and Image.open(out / "b.png").size == (16, 16)

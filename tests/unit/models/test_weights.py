"""Weights files: the one loader (``invdn.models.load_model``), architecture inference, safe reading."""
import json
import os
import pickle

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from invdn.engine.checkpoint import CheckpointError
from invdn.cli import main
from invdn.models import Architecture, InvDN, load_model
from invdn.models.infer import infer_architecture
from invdn.models.weights import WeightsError, read_pdparams

from helpers import perturbed_invdn

# what the official code can train (block_num per scale, down_num, subnet_type, and our squeeze variant)
ARCHS = {
    "haar-1x2": Architecture(down_blocks=1, inv_blocks=2),
    "haar-2x1": Architecture(down_blocks=2, inv_blocks=1),
    "haar-3x[1,2,1]": Architecture(down_blocks=3, inv_blocks=(1, 2, 1)),
    "densenet-2x1": Architecture(down_blocks=2, inv_blocks=1, subnet="densenet"),
    "densenet-2x[2,1]": Architecture(down_blocks=2, inv_blocks=(2, 1), subnet="densenet"),
    "squeeze-2x[2,1]": Architecture(down_blocks=2, inv_blocks=(2, 1), transform="squeeze"),
    "squeeze-densenet-3x1": Architecture(down_blocks=3, inv_blocks=1, transform="squeeze", subnet="densenet"),
}


@pytest.fixture
def trained_like():
    torch.manual_seed(0)
    return InvDN(inv_blocks=2).eval()


def _same_outputs(a: InvDN, b: InvDN) -> None:
    """Bit-identical latents and reverse outputs, on outputs that depend on the weights and on z."""
    x = torch.rand(1, 3, 16, 16, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        la, lb = a(x), b(x)
        z = torch.randn(la.shape, generator=torch.Generator().manual_seed(2))
        ra, rb = a(z, rev=True), b(z, rev=True)
        assert torch.equal(la, lb) and torch.equal(ra, rb)
        assert not torch.equal(ra, z.new_zeros(ra.shape)) and not torch.equal(la[:, 3:], z.new_zeros(la[:, 3:].shape))


def _official_file(model: InvDN, path, prefix: str = ""):
    torch.save({f"{prefix}{k}": v for k, v in model.state_dict().items()}, path)
    return path


def _pdparams_file(model: InvDN, path, layout: str):
    arrays = {k: v.numpy() for k, v in model.state_dict().items()}
    if layout == "paddle.save":  # protocol 4, Paddle's bookkeeping entry beside the arrays
        obj, protocol = {**arrays, "StructuredToParameterName@@": {k: k for k in arrays}}, 4
    else:  # PaddleGAN's trainer: protocol 2, arrays under "generator"
        obj, protocol = {"generator": arrays}, 2
    with path.open("wb") as f:
        pickle.dump(obj, f, protocol=protocol)
    return path


@pytest.mark.parametrize("prefix", ["", "module."])
@pytest.mark.parametrize("name", ARCHS)
def test_official_files_load_with_no_flags(name, prefix, tmp_path):
    source = perturbed_invdn(ARCHS[name])
    path = _official_file(source, tmp_path / "InvDN_ResUnit_x4.pth", prefix)
    rng = torch.get_rng_state()
    model, info = load_model(path)
    assert torch.equal(rng, torch.get_rng_state())  # loading draws nothing from the caller's random stream
    assert model.arch == ARCHS[name] and not model.training
    assert info == {"format": "official", "source": str(path), "arch": ARCHS[name].to_dict(),
                    "name": "InvDN_ResUnit_x4", "scale": "released"}
    _same_outputs(source, model)


@pytest.mark.parametrize("layout", ["paddle.save", "ppgan"])
@pytest.mark.parametrize("name", ["haar-2x1", "haar-3x[1,2,1]", "densenet-2x[2,1]", "squeeze-densenet-3x1"])
def test_pdparams_load_with_no_flags(name, layout, tmp_path):
    source = perturbed_invdn(ARCHS[name])
    path = _pdparams_file(source, tmp_path / "InvDN_ResUnit_x4.pdparams", layout)
    assert set(read_pdparams(path)) == set(source.state_dict())
    model, info = load_model(path)
    assert model.arch == ARCHS[name] and info["format"] == "paddle" and info["arch"] == ARCHS[name].to_dict()
    _same_outputs(source, model)


def test_inference_names_its_evidence():
    found = infer_architecture(InvDN(ARCHS["squeeze-2x[2,1]"]).state_dict())
    assert found.arch == ARCHS["squeeze-2x[2,1]"]
    assert found.evidence == {
        "channels": "operations.1.G.conv1.weight (64, 3, 3, 3)",
        "down_blocks": "steps at operations 0, 3",
        "inv_blocks": "coupling blocks at operations 1-2, 4",
        "transform": "operations 0, 3 hold no parameters",
        "subnet": "operations.1.F.conv1..conv3",
    }
    grey = infer_architecture(InvDN(Architecture(channels=1, inv_blocks=1, subnet="densenet")).state_dict())
    assert grey.arch.channels == 1 and grey.evidence["channels"] == "operations.0.haar_weights (4, 1, 2, 2)"


class _Exploit:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_malicious_pdparams_is_refused_without_running_code(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pdparams"
    with path.open("wb") as f:
        pickle.dump({"operations.1.F.conv1.weight": _Exploit(marker)}, f)
    with pytest.raises(WeightsError, match=r"evil.pdparams: not a plain .pdparams file .*refused to load .*system"):
        read_pdparams(path)
    with pytest.raises(WeightsError, match=r"evil.pdparams: not a plain .pdparams file"):
        load_model(path)
    assert not marker.exists()


def test_malicious_pth_is_refused_in_one_line_without_unsafe_advice(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pth"
    torch.save({"operations.1.F.conv1.weight": _Exploit(marker)}, path)
    with pytest.raises(CheckpointError) as err:
        load_model(path)
    msg = str(err.value)
    assert msg.startswith(f"{path}: refused:") and "system" in msg
    assert "\n" not in msg and "weights_only" not in msg  # torch's own text suggests weights_only=False
    assert not marker.exists()


def test_every_bad_key_is_listed(trained_like, tmp_path):
    state = trained_like.state_dict()
    state.pop("operations.1.F.conv1.weight")
    state["operations.99.extra"] = torch.zeros(1)
    state["operations.2.G.conv3.bias"] = torch.zeros(5)
    path = tmp_path / "bad.pth"
    torch.save(state, path)
    with pytest.raises(WeightsError) as err:  # a complete architecture given: the keys that do not fit it
        load_model(path, expect=Architecture(inv_blocks=2))
    msg = str(err.value)
    assert "bad.pth: weights do not fit InvDN" in msg
    assert "missing (1): operations.1.F.conv1.weight" in msg and "unexpected (1): operations.99.extra" in msg
    assert "wrong shape (1): operations.2.G.conv3.bias: file (5,), model (9,)" in msg
    with pytest.raises(WeightsError) as err:  # none given: what was found
        load_model(path)
    msg = str(err.value)
    assert msg.startswith(f"{path}: not a recognisable InvDN state dict (operation 99 is neither a step nor a coupling block)")
    assert "operations 6-98: nothing; operation 99: extra" in msg and "\n" not in msg
    r = CliRunner().invoke(main, ["import-weights", str(path), "--out", str(tmp_path / "m.pt"), "--down-blocks", "2",
                                  "--inv-blocks", "2", "--transform", "haar", "--subnet", "resnet"])
    assert r.exit_code == 1 and "missing (1): operations.1.F.conv1.weight" in r.output  # the flags name the arch
    del state["operations.99.extra"]
    torch.save(state, path)  # recognised: the missing tensor and the wrong shape listed against the inferred arch
    with pytest.raises(WeightsError, match=r"(?s)weights do not fit InvDN \{.*'inv_blocks': 2.*missing \(1\).*wrong shape \(1\)"):
        load_model(path)


def test_unrecognisable_state_dict_says_what_it_found(tmp_path):
    path = tmp_path / "resnet18.pth"
    torch.save({"conv1.weight": torch.zeros(64, 3, 7, 7), "bn1.weight": torch.zeros(64), "fc.weight": torch.zeros(10, 512)}, path)
    r = CliRunner().invoke(main, ["import-weights", str(path), "--out", str(tmp_path / "m.pt")])
    assert r.exit_code == 1
    assert (f"error: {path}: not a recognisable InvDN state dict (3 key(s) outside operations.<i>; no operations.<i> keys); "
            "found other keys (3): conv1.weight, bn1.weight, fc.weight; expected operations 0, 1, ... each a "
            "down-scaling step (haar: haar_weights, squeeze: nothing) or a coupling block (densenet: "
            "F(conv1..conv5) G(conv1..conv5) H(conv1..conv5), resnet: F(conv1..conv3) G(conv1..conv3) H(conv1..conv3))"
            ) in r.output
    torch.save({"params": InvDN(ARCHS["haar-2x1"]).state_dict(), "iter": 5}, path)  # nested, as BasicSR saves
    with pytest.raises(WeightsError, match=r"resnet18\.pth: no tensors at the top level \(keys: params, iter\)"):
        load_model(path)
    lost = perturbed_invdn(ARCHS["haar-3x[1,2,1]"]).state_dict()
    torch.save({k: v for k, v in lost.items() if not k.startswith("operations.4.")}, path)  # a whole block lost
    with pytest.raises(WeightsError, match=r"down-scaling steps of different kinds: haar at 0, 2, 5, squeeze at 4"):
        load_model(path)


def test_a_contradicting_flag_names_both_values(tmp_path):
    src = _official_file(perturbed_invdn(ARCHS["densenet-2x1"]), tmp_path / "dense.pth")
    out = tmp_path / "m.pt"
    run = lambda *flags: CliRunner().invoke(main, ["import-weights", str(src), "--out", str(out), *flags])  # noqa: E731
    r = run("--subnet", "resnet")
    assert r.exit_code == 1 and not out.exists()
    assert f"error: {src}: file has subnet densenet (operations.1.F.conv1..conv5), subnet resnet given" in r.output
    r = run("--inv-blocks", "1", "--inv-blocks", "2", "--transform", "squeeze")
    assert r.exit_code == 1
    assert ("file has inv_blocks 1 (coupling blocks at operations 1, 3), inv_blocks [1, 2] given; "
            "file has transform haar (operations.0.haar_weights), transform squeeze given") in r.output
    r = run("--down-blocks", "2", "--inv-blocks", "1", "--subnet", "densenet", "--transform", "haar")  # all agree
    assert r.exit_code == 0, r.output
    with pytest.raises(WeightsError, match=r"file has down_blocks 2 \(its recorded arch\), down_blocks 3 given"):
        load_model(out, expect={"down_blocks": 3})


def test_recorded_arch_is_checked_against_the_weights(tmp_path):
    source = perturbed_invdn(ARCHS["densenet-2x1"])
    path = tmp_path / "model.pt"
    torch.save({"format": "invdn-repro/model/1", "arch": ARCHS["haar-2x1"].to_dict(), "model": source.state_dict(),
                "name": "dense", "step": 7}, path)
    with pytest.raises(WeightsError, match=r"model\.pt: weights have subnet densenet \(operations\.1\.F\.conv1\.\.conv5\), "
                                           r"its recorded arch subnet resnet$"):
        load_model(path)
    torch.save({"format": "invdn-repro/model/1", "arch": source.arch.to_dict(), "model": source.state_dict(),
                "name": "dense", "step": 7}, path)
    model, info = load_model(path)
    assert info == {"format": "invdn-repro/model/1", "arch": source.arch.to_dict(), "name": "dense", "step": 7}
    _same_outputs(source, model)


def test_cli_imports_an_official_densenet_file_and_evaluate_reads_it_directly(tiny_data, tmp_path):
    source = perturbed_invdn(ARCHS["densenet-2x1"])
    src = _official_file(source, tmp_path / "InvDN_DB.pth", "module.")
    out = tmp_path / "model.pt"
    r = CliRunner().invoke(main, ["import-weights", str(src), "--out", str(out)])
    assert r.exit_code == 0, r.output
    model, state = load_model(out)
    assert state["source"] == str(src) and state["source_format"] == "official" and model.arch == source.arch
    assert state["name"] == "InvDN_DB" and state["scale"] == "released"
    _same_outputs(source, model)
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    records = {}
    for name, checkpoint in (("official", src), ("imported", out)):
        metrics = tmp_path / f"{name}.json"
        r = CliRunner().invoke(main, ["evaluate", "--checkpoint", str(checkpoint), "--data", str(tiny_data["val"]),
                                      "--mode", "mc", "--mc-samples", "2", "--out", str(metrics), "--tracking-uri", uri, "--no-progress"])
        assert r.exit_code == 0, r.output
        records[name] = json.loads(metrics.read_text())
    assert records["official"]["num_images"] == 2
    # the .pth read directly and its imported model file: the same model, the same per-image scores
    assert [i["psnr"] for i in records["official"]["images"]] == [i["psnr"] for i in records["imported"]["images"]]


def test_denoise_command_writes_same_named_pngs_for_odd_sizes(trained_like, tmp_path):
    from PIL import Image

    model_path = tmp_path / "m.pt"
    torch.save({"format": "invdn-repro/model/1", "arch": trained_like.arch.to_dict(), "model": trained_like.state_dict()}, model_path)
    src = tmp_path / "in"
    src.mkdir()
    rng = torch.Generator().manual_seed(0)
    for name, (h, w) in {"a": (18, 21), "b": (16, 16)}.items():
        Image.fromarray((torch.rand(h, w, 3, generator=rng) * 255).byte().numpy()).save(src / f"{name}.png")
    for extra in ([], ["--mode", "x8_mc", "--mc-samples", "2"]):
        out = tmp_path / ("x8" if extra else "mc")
        r = CliRunner().invoke(main, ["denoise", str(src), "--checkpoint", str(model_path), "--out-dir", str(out), *extra])
        assert r.exit_code == 0, r.output
        assert Image.open(out / "a.png").size == (21, 18) and Image.open(out / "b.png").size == (16, 16)


def test_denoise_reads_an_opaque_rgba_png_as_rgb_with_a_note_and_refuses_a_translucent_one(trained_like, tmp_path):
    from PIL import Image

    model_path = tmp_path / "m.pt"
    torch.save({"format": "invdn-repro/model/1", "arch": trained_like.arch.to_dict(), "model": trained_like.state_dict()}, model_path)
    rgb = (torch.rand(16, 16, 3, generator=torch.Generator().manual_seed(1)) * 255).byte().numpy()
    alpha = np.full((16, 16, 1), 255, np.uint8)
    for name, a in (("opaque", alpha), ("translucent", np.where(np.arange(256).reshape(16, 16, 1) == 5, 7, alpha))):
        (tmp_path / name).mkdir()
        Image.fromarray(np.concatenate([rgb, a.astype(np.uint8)], axis=2), "RGBA").save(tmp_path / name / "x.png")
        (tmp_path / f"{name}-rgb").mkdir()
    Image.fromarray(rgb).save(tmp_path / "opaque-rgb" / "x.png")
    outs = {}
    for name in ("opaque", "opaque-rgb"):
        r = CliRunner().invoke(main, ["denoise", str(tmp_path / name), "--checkpoint", str(model_path), "--mode", "single",
                                      "--out-dir", str(tmp_path / f"out-{name}"), "--no-progress"])
        assert r.exit_code == 0, r.output
        outs[name] = np.asarray(Image.open(tmp_path / f"out-{name}" / "x.png"))
    assert np.array_equal(outs["opaque"], outs["opaque-rgb"])  # its RGB, denoised as the RGB file is
    r = CliRunner().invoke(main, ["denoise", str(tmp_path / "translucent"), "--checkpoint", str(model_path),
                                  "--out-dir", str(tmp_path / "out-t"), "--no-progress"])
    assert r.exit_code != 0 and "x.png: an RGBA image with transparent pixels (1 with alpha < 255, lowest 7)" in r.output
    assert "Traceback" not in r.output

"""Preparing SIDD val and building SIDD/DND submissions with a model, end to end on tiny fixtures."""
import json
import zipfile

import numpy as np
import pytest
import scipy.io
import torch
from click.testing import CliRunner

from invdn.submission.runs import submit_dnd, submit_sidd
from invdn.cli import main
from invdn.data import find_pairs
from invdn.inference.config import InferenceConfig
from invdn.inference.modes import Mode
from invdn.models import InvDN

from helpers import blocks, write_dnd_info_v73, write_v73


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return InvDN(inv_blocks=1).eval()


def test_prepare_sidd_val_command(tmp_path):
    noisy, gt = blocks(1, (1, 2)), blocks(2, (1, 2))
    scipy.io.savemat(tmp_path / "n.mat", {"ValidationNoisyBlocksSrgb": noisy})
    scipy.io.savemat(tmp_path / "g.mat", {"ValidationGtBlocksSrgb": gt})
    r = CliRunner().invoke(main, ["prepare", "sidd-val", "--noisy", str(tmp_path / "n.mat"), "--gt",
                                  str(tmp_path / "g.mat"), "--out-dir", str(tmp_path / "val")])
    assert r.exit_code == 0, r.output
    assert [p.name for p in find_pairs(tmp_path / "val")] == ["00_00", "00_01"]
    assert json.loads((tmp_path / "val" / "prepare.json").read_text())["pairs"] == 2
    r = CliRunner().invoke(main, ["prepare", "sidd-val", "--noisy", str(tmp_path / "g.mat"), "--gt",
                                  str(tmp_path / "g.mat"), "--out-dir", str(tmp_path / "bad")])
    assert r.exit_code == 1 and "g.mat" in r.output and "ValidationNoisyBlocksSrgb" in r.output


def test_sidd_submission_is_the_model_output_in_the_kit_layout(model, tmp_path):
    bench = blocks(3, (1, 2))
    scipy.io.savemat(tmp_path / "bench.mat", {"BenchmarkNoisyBlocksSrgb": bench})
    single = InferenceConfig(Mode.SINGLE, 1, 0)
    summary = submit_sidd(model, tmp_path / "bench.mat", tmp_path / "out", single, optional={"MethodName": "test"},
                          progress=False, expected_grid=None)
    mat = scipy.io.loadmat(tmp_path / "out" / "SubmitSrgb.mat")
    cells = mat["DenoisedBlocksSrgb"]
    assert cells.shape == (1, 2) and cells[0, 1].dtype == np.uint8 and cells[0, 1].shape == (256, 256, 3)
    assert summary["time_mp"] > 0 and mat["TimeMPSrgb"].item() == pytest.approx(summary["time_mp"])
    again = submit_sidd(model, tmp_path / "bench.mat", tmp_path / "again", single, progress=False, expected_grid=None)
    assert np.array_equal(scipy.io.loadmat(again["mat"])["DenoisedBlocksSrgb"][0, 1], cells[0, 1])  # seeded
    assert zipfile.ZipFile(tmp_path / "out" / "submission.zip").namelist() == ["SubmitSrgb.mat"]
    assert not np.array_equal(cells[0, 0], bench[0, 0])  # denoised, not copied
    with pytest.raises(ValueError, match="40, 32"):  # the real kit's grid is enforced by default
        submit_sidd(model, tmp_path / "bench.mat", tmp_path / "x", single, progress=False)


def test_dnd_submission_bundles_the_denoised_crops(model, tmp_path):
    root = tmp_path / "dnd"
    (root / "images_srgb").mkdir(parents=True)
    image = np.random.default_rng(0).random((520, 530, 3)).astype(np.float32)
    write_v73(root / "images_srgb" / "0001.mat", {"InoisySRGB": image})
    boxes = np.array([[1 + (k % 3), 1 + (k % 5), 512 + (k % 3), 512 + (k % 5)] for k in range(20)])
    write_dnd_info_v73(root / "info.mat", [boxes])
    summary = submit_dnd(model, root, tmp_path / "out", InferenceConfig(Mode.SINGLE, 1, 0), n_images=1, progress=False)
    assert summary["crops"] == 20
    bundle = scipy.io.loadmat(tmp_path / "out" / "bundled" / "0001.mat")
    crops = bundle["Idenoised"].ravel()
    assert len(crops) == 20 and crops[0].shape == (512, 512, 3) and crops[0].dtype == np.float32
    assert 0 <= crops[5].min() and crops[5].max() <= 1
    assert (tmp_path / "out" / "previews" / "0001_20.png").is_file()
    assert zipfile.ZipFile(tmp_path / "out" / "submission.zip").namelist() == ["0001.mat"]


def test_evaluation_reads_the_sidd_mat_directly_with_the_same_scores_as_the_pngs(model, tmp_path):
    noisy, gt = blocks(5, (1, 2)), blocks(6, (1, 2))
    mats = tmp_path / "mats"
    mats.mkdir()
    scipy.io.savemat(mats / "ValidationNoisyBlocksSrgb.mat", {"ValidationNoisyBlocksSrgb": noisy})
    scipy.io.savemat(mats / "ValidationGtBlocksSrgb.mat", {"ValidationGtBlocksSrgb": gt})
    weights = tmp_path / "m.pt"
    torch.save({"format": "invdn-repro/model/1", "arch": model.arch.to_dict(), "model": model.state_dict()}, weights)
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    run = CliRunner().invoke
    assert run(main, ["prepare", "sidd-val", "--noisy", str(mats / "ValidationNoisyBlocksSrgb.mat"), "--gt",
                      str(mats / "ValidationGtBlocksSrgb.mat"), "--out-dir", str(tmp_path / "png")]).exit_code == 0
    records = []
    for data in (mats / "ValidationNoisyBlocksSrgb.mat", tmp_path / "png"):
        out = tmp_path / f"{data.stem}.json"
        r = run(main, ["evaluate", "--checkpoint", str(weights), "--data", str(data), "--out", str(out),
                       "--tracking-uri", uri, "--no-progress", "--save-samples", "0"])
        assert r.exit_code == 0, r.output
        records.append(json.loads(out.read_text()))
    assert [i["name"] for i in records[0]["images"]] == ["00_00", "00_01"]
    assert [i["psnr"] for i in records[0]["images"]] == [i["psnr"] for i in records[1]["images"]]
    (mats / "ValidationGtBlocksSrgb.mat").unlink()
    r = run(main, ["evaluate", "--checkpoint", str(weights), "--data", str(mats / "ValidationNoisyBlocksSrgb.mat"),
                   "--out", str(tmp_path / "x.json"), "--tracking-uri", uri, "--no-progress"])
    assert r.exit_code == 1 and "ValidationGtBlocksSrgb.mat was not found" in r.output

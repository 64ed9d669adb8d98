"""The dataset rules in the real DAG: official SIDD downloads (tiny fixtures in the exact formats) ->
prepared training patches and val pairs -> training; unconfigured datasets are skipped with a message."""
import json

import numpy as np
import scipy.io
import yaml
from mlflow.tracking import MlflowClient
from PIL import Image

from helpers import REPO, tiny_run_config
from helpers import snakemake


def test_sidd_downloads_are_prepared_and_train_the_model(tmp_path):
    rng = np.random.default_rng(0)
    medium = tmp_path / "downloads" / "SIDD_Medium_Srgb" / "Data"
    for folder, scene in (("0001_001_S6_00100_00060_3200_L", "0001"), ("0002_001_GP_00800_00350_5500_N", "0002")):
        (medium / folder).mkdir(parents=True)
        for index in ("010", "011"):
            clean = rng.integers(0, 256, (140, 150, 3), dtype=np.uint8)
            noisy = np.clip(clean + rng.normal(0, 10, clean.shape), 0, 255).astype(np.uint8)
            Image.fromarray(clean).save(medium / folder / f"{scene}_GT_SRGB_{index}.PNG")
            Image.fromarray(noisy).save(medium / folder / f"{scene}_NOISY_SRGB_{index}.PNG")
    grid = (1, 2, 256, 256, 3)
    scipy.io.savemat(tmp_path / "downloads" / "noisy.mat",
                     {"ValidationNoisyBlocksSrgb": rng.integers(0, 256, grid, dtype=np.uint8)})
    scipy.io.savemat(tmp_path / "downloads" / "gt.mat",
                     {"ValidationGtBlocksSrgb": rng.integers(0, 256, grid, dtype=np.uint8)})

    work = tmp_path / "work"
    raw = tiny_run_config({"train": work / "data" / "train", "val": work / "data" / "val"}, iterations=2, val_every=0)
    raw["datasets"] = {"sidd_medium": str(medium), "sidd_val_noisy": str(tmp_path / "downloads" / "noisy.mat"),
                       "sidd_val_gt": str(tmp_path / "downloads" / "gt.mat"), "patch": 64, "per_image": 2}
    raw["preset"] = "smoke"
    raw["mlflow"] = {}
    config = tmp_path / "tiny.yaml"
    config.write_text(yaml.safe_dump(raw))
    target = "results/tiny/train/invdn/seed0/model.pt"
    run = snakemake(work, config, target)
    assert run.returncode == 0, run.stderr[-3000:]
    train = work / "data" / "train"
    assert len(list((train / "LQ").iterdir())) == 8 and (train / "manifest.sha256").is_file()
    assert sorted(p.name for p in (work / "data" / "val" / "GT").iterdir()) == ["00_00.PNG", "00_01.PNG"]
    manifest = json.loads((work / "results" / "tiny" / "data" / "train" / "manifest.json").read_text())
    assert manifest  # the prepared folder passed validate-data
    client = MlflowClient(tracking_uri=f"sqlite:///{work}/results/mlflow.db")
    exp = client.get_experiment_by_name("invdn-repro")
    (train_run,) = client.search_runs([exp.experiment_id], "tags.stage != 'dag'")  # beside the DAG's own run
    digest = (train / "manifest.sha256").read_text().split()[0]
    assert train_run.data.tags["train_manifest_sha256"] == digest

    again = snakemake(work, config, target)
    assert again.returncode == 0 and "Nothing to be done" in again.stdout + again.stderr

    skipped = snakemake(work, config, "submissions", "-n")
    assert skipped.returncode == 0
    assert "datasets.sidd_benchmark is not configured: SIDD benchmark submission skipped" in skipped.stderr
    assert "datasets.dnd is not configured" in skipped.stderr


def test_paper_config_wires_sidd_into_training_and_val():
    from invdn.pipeline.presets import compose

    raw = compose("paper", root=REPO)
    assert raw["datasets"]["sidd_medium"] and raw["datasets"]["sidd_val_noisy"] and raw["datasets"]["sidd_val_gt"]
    assert raw["datasets"]["patch"] == 512 and raw["datasets"]["per_image"] == 100

"""Figures (paper Figs. 5 and 7, the gallery): files written, PCA numbers, and the commands' cross-checks."""
import csv
import json

import numpy as np
import pytest
import torch
import yaml
from click.testing import CliRunner
from PIL import Image
from mlflow.tracking import MlflowClient

from invdn.inference.config import InferenceConfig
from invdn.reporting import figures
from invdn.cli import main
from invdn.tasks.figures import latent_and_sample
from invdn.data import find_pairs, float_to_uint8, read_rgb
from invdn.data.io import chw_uint8_to_hwc
from invdn.inference.modes import denoise, image_generator
from invdn.analysis.evaluate import invdn_denoiser, score_pairs
from invdn.metrics import psnr

from helpers import BUNDLED, perturbed_invdn, tiny_run_config


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def assert_png_and_pdf(paths, stem):
    assert [p.name for p in paths] == [stem.name + ".png", stem.name + ".pdf"]
    png, pdf = (p.read_bytes() for p in paths)
    assert png.startswith(b"\x89PNG") and len(png) > 1000
    assert pdf.startswith(b"%PDF") and len(pdf) > 1000


def assert_jpg_and_pdf(paths, stem):
    """A figure of photographs: JPEG (not PNG) and PDF."""
    assert [p.name for p in paths] == [stem.name + ".jpg", stem.name + ".pdf"]
    jpg, pdf = (p.read_bytes() for p in paths)
    assert jpg.startswith(b"\xff\xd8\xff") and len(jpg) > 1000
    assert pdf.startswith(b"%PDF") and len(pdf) > 1000


@pytest.fixture(scope="module")
def model():
    return perturbed_invdn()


@pytest.fixture
def model_file(model, tmp_path):
    path = tmp_path / "m.pt"
    torch.save({"format": "invdn-repro/model/1", "arch": model.arch.to_dict(), "model": model.state_dict()}, path)
    return path


def images(seed=0, size=32):
    g = torch.Generator().manual_seed(seed)
    clean = torch.rand(3, size, size, generator=g) * 0.5 + 0.25
    noisy = (clean + 0.05 * torch.randn(3, size, size, generator=g)).clamp(0, 1)
    generated = (clean + 0.05 * torch.randn(3, size, size, generator=g)).clamp(0, 1)
    return noisy, generated, clean


def test_pca_recovers_the_variance_shares_of_known_data():
    rng = np.random.default_rng(0)
    scales = np.array([3.0, 2.0, 1.0, 0.5, 0.2, 0.1])
    rotation, _ = np.linalg.qr(rng.normal(size=(6, 6)))
    x = (rng.normal(size=(50_000, 6)) * scales) @ rotation.T + 7.0  # axes rotated, mean moved
    fit = figures.pca(x, components=2)
    expected = scales[:2] ** 2 / (scales**2).sum()  # 9/14.3 and 4/14.3
    np.testing.assert_allclose(fit.explained_variance_ratio, expected, atol=0.01)
    np.testing.assert_allclose(np.abs(fit.components @ rotation[:, :2]), np.eye(2), atol=0.02)
    np.testing.assert_allclose(fit.components @ fit.components.T, np.eye(2), atol=1e-12)
    line = np.outer(np.arange(10.0), [1.0, 2.0, 2.0])  # all variance along one direction
    np.testing.assert_allclose(figures.pca(line).explained_variance_ratio, [1.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(figures.pca(line).components[0], [1 / 3, 2 / 3, 2 / 3], atol=1e-12)  # sign fixed


def test_latent_pca_is_fitted_on_both_sets_pooled():
    g = torch.Generator().manual_seed(1)
    z_hf = torch.randn(5, 40, 50, generator=g)
    z = torch.randn(1, 5, 40, 50, generator=g)
    z[:, 0] += 4.0  # the two sets differ by 4 along channel 0
    fit = figures.latent_pca_fit(z, z_hf)
    # pooled variance: 1 + (4 / 2)**2 = 5 along channel 0, 1 along each of the other 4 channels
    assert fit.explained_variance_ratio[0] == pytest.approx(5 / 9, abs=0.02)
    assert abs(fit.components[0, 0]) == pytest.approx(1.0, abs=0.01)
    with pytest.raises(figures.FigureError, match="z has 5 channels but z_hf has 4"):
        figures.latent_pca_fit(z, z_hf[:4])


def test_plots_are_palette_pngs_and_photograph_figures_jpegs(tmp_path):
    noisy, generated, clean = images()
    stem = tmp_path / "curves"
    assert_png_and_pdf(figures.training_curves({"haar": [(200, 25.0), (100, 20.0)], "squeeze": [(100, 19.0)]}, stem), stem)
    assert Image.open(stem.with_suffix(".png")).mode == "P"  # 256-colour palette, not RGBA
    stem = tmp_path / "latent_pca"
    z = torch.randn(45, 8, 8)
    assert_png_and_pdf(figures.latent_pca(z, torch.randn(45, 8, 8), stem, max_points=30), stem)
    stem = tmp_path / "generated_noise"
    assert_jpg_and_pdf(figures.generated_noise(noisy, generated, clean, stem), stem)
    rows = [{"name": f"img{i}", "panels": [{"label": "noisy", "image": noisy, "psnr": 26.0},
                                          {"label": "clean", "image": clean, "psnr": None}]} for i in range(2)]
    stem = tmp_path / "gallery"
    assert_jpg_and_pdf(figures.gallery(rows, stem), stem)
    stem = tmp_path / "noise_residuals"
    assert_jpg_and_pdf(figures.noise_residuals([{"name": "a", "noisy": noisy, "generated": generated, "clean": clean}],
                                               stem), stem)
    stem = tmp_path / "residual_maps"
    assert_jpg_and_pdf(figures.residual_maps({"noisy": noisy, "clean": clean, "mc1": generated, "mc4": clean}, [1, 4],
                                             stem), stem)
    with pytest.raises(figures.FigureError, match="no points"):
        figures.training_curves({"empty": []}, tmp_path / "x")
    with pytest.raises(figures.FigureError, match="same number of panels"):
        figures.gallery([rows[0], {"name": "b", "panels": rows[0]["panels"][:1]}], tmp_path / "x")


def test_panels_are_the_canonically_quantised_images(tmp_path):
    noisy, _, clean = images()
    paths = figures.write_panels({"a_noisy": noisy, "a_clean": clean}, tmp_path)
    assert [p.name for p in paths] == ["a_noisy.png", "a_clean.png"]
    np.testing.assert_array_equal(read_rgb(paths[0]), chw_uint8_to_hwc(float_to_uint8(noisy)))


PHOTO_FIGURES_BUDGET = 1_200_000
"""Bytes for the photograph figures of one smoke report together (gallery and noise residuals of 4
val blocks, generated noise of 1, MC residual maps of 2 seeds). Why: the HTML report (snakemake
--report) must stay under 5 MB. Its template alone is 2.99 MB (Snakemake 9.27's vega, vega-lite,
tailwind and react; measured with a one-file report) and the tables and captions about 0.1 MB;
figures go in as base64 (4/3 of their bytes), so all figures together may have about 1.4 MB. The
plots (palette PNGs: latent PCA, 2 MC curves, 4 study curves) take about 0.2 MB of it. These five
figures were 9.2 MB as RGBA PNGs at 150 dpi (and the 28 gallery panels, now left out of the report,
3.7 MB more); as JPEG they are about 1.0 MB."""


def test_photograph_figures_of_real_val_blocks_are_jpegs_within_the_report_budget(tmp_path):
    """The bundled SIDD val blocks (256x256, real sRGB noise, as the smoke DAG draws them); the
    denoised images stand in as clean + a fraction of the real noise (the figures' size depends on
    the noise they show, not on the model)."""
    pairs = []
    for name in ("0_0", "0_3", "0_6", "0_9"):  # 4 of the 10 blocks, as the smoke gallery
        noisy, clean = (torch.from_numpy(read_rgb(BUNDLED / "val_mini" / sub / f"{name}.PNG").copy()).permute(2, 0, 1)
                        .float() / 255 for sub in ("Noisy", "GT"))
        pairs.append((name, noisy, clean))
    generated = [(c + (n2 - c2)).clamp(0, 1) for (_, _, c), (_, n2, c2) in zip(pairs, pairs[1:] + pairs[:1])]
    rows = [{"name": name, "panels": [{"label": label, "image": (clean + f * (noisy - clean)).clamp(0, 1), "psnr": 30.0}
                                      for label, f in (("noisy", 1.0), ("single", 0.4), ("MC-8", 0.25), ("clean", 0.0))]}
            for name, noisy, clean in pairs]
    noise_rows = [{"name": name, "noisy": noisy, "generated": g, "clean": clean} for (name, noisy, clean), g in
                  zip(pairs, generated)]
    name, noisy, clean = pairs[0]
    maps = {"noisy": noisy, "clean": clean, "mc1": rows[0]["panels"][1]["image"], "mc8": rows[0]["panels"][2]["image"]}
    written = [figures.gallery(rows, tmp_path / "gallery")[0], figures.noise_residuals(noise_rows, tmp_path / "noise")[0],
               figures.generated_noise(noisy, generated[0], clean, tmp_path / "generated")[0]]
    written += [figures.residual_maps(maps, [1, 8], tmp_path / f"maps{seed}", title=f"seed {seed}")[0] for seed in (0, 1)]
    for path in written:
        assert path.suffix == ".jpg" and path.read_bytes()[:3] == b"\xff\xd8\xff", path
        with Image.open(path) as im:
            assert im.format == "JPEG" and min(im.size) > 256  # the images at about their own size, not thumbnails
    sizes = {p.name: p.stat().st_size for p in written}
    assert sum(sizes.values()) <= PHOTO_FIGURES_BUDGET, sizes


def test_display_gain_shows_three_standard_deviations():
    clean = torch.full((3, 64, 64), 0.5)
    noisy = clean + 0.02 * torch.randn(3, 64, 64, generator=torch.Generator().manual_seed(0))
    std = float((noisy - clean).double().std())
    assert figures.display_gain(noisy, clean) == pytest.approx(0.5 / (3 * std), rel=0.05)
    assert figures.display_gain(clean, clean) == 1.0


def test_z_hf_of_the_latent_figure_is_the_sample_that_single_denoising_uses(model, tiny_data):
    pair = find_pairs(tiny_data["val"])[0]
    noisy = torch.from_numpy(read_rgb(pair.noisy).transpose(2, 0, 1).copy()).float()[None] / 255
    z, z_hf = latent_and_sample(model, noisy, image_generator(3, pair.name))
    with torch.no_grad():
        lr, z_again = model.split_latent(model(noisy))
        by_hand = model(torch.cat([lr, z_hf], dim=1), rev=True)
    assert torch.equal(z, z_again) and z.shape == (1, 45, 8, 8)
    assert torch.equal(by_hand, denoise(model, noisy, [image_generator(3, pair.name)], 1))


def test_latent_and_gallery_commands(model, model_file, tiny_data, tmp_path):
    out = tmp_path / "figs"
    r = invoke("figure", "latent", "--checkpoint", model_file, "--data", tiny_data["val"], "--image", "0_1",
               "--seed", 3, "--out-dir", out, "--threads", 1)
    assert r.exit_code == 0, r.output
    assert_png_and_pdf([out / "latent_pca.png", out / "latent_pca.pdf"], out / "latent_pca")
    assert_jpg_and_pdf([out / "generated_noise.jpg", out / "generated_noise.pdf"], out / "generated_noise")
    r = invoke("figure", "latent", "--checkpoint", model_file, "--data", tiny_data["val"], "--image", "7",
               "--out-dir", out)
    assert r.exit_code == 2 and "no image named '7'" in r.output

    r = invoke("figure", "gallery", "--checkpoint", model_file, "--data", tiny_data["val"], "--images", 2,
               "--mc-samples", 2, "--seed", 3, "--out-dir", out, "--threads", 1)
    assert r.exit_code == 0, r.output
    for stem in ("gallery", "noise_residuals"):
        assert_jpg_and_pdf([out / f"{stem}.jpg", out / f"{stem}.pdf"], out / stem)
    index = json.loads((out / "gallery" / "index.json").read_text())
    pairs = find_pairs(tiny_data["val"])
    assert [i["name"] for i in index["images"]] == [p.name for p in pairs]
    # the single-draw column is what `invdn evaluate --mode single --seed 3` scores, image by image
    evaluated = score_pairs(invdn_denoiser(model, InferenceConfig("single", 1, 3)), pairs, protocols=["canonical"])
    for entry, score, pair in zip(index["images"], evaluated, pairs):
        panels = {p["file"]: p for p in entry["panels"]}
        single = panels[f"{pair.name}_single.png"]
        assert single["psnr_db"] == score.psnr
        # and the saved 8-bit panel scores the same against the clean image
        assert psnr(read_rgb(out / "gallery" / single["file"]).copy(), read_rgb(pair.clean).copy()) == pytest.approx(score.psnr, abs=1e-9)
        assert panels[f"{pair.name}_clean.png"]["psnr_db"] is None
        assert all((out / "gallery" / f).is_file() for f in panels)


@pytest.fixture
def trained(tiny_data, tmp_path, monkeypatch):
    """A tiny tracked training run (4 steps, validation at 2 and 4) and its store."""
    monkeypatch.chdir(tmp_path)
    cfg = tmp_path / "tiny.yaml"
    cfg.write_text(yaml.safe_dump(tiny_run_config(tiny_data, iterations=4, val_every=2, checkpoint_every=4)))
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    r = invoke("train", "--config", cfg, "--out-dir", "run", "--tracking-uri", uri, "--no-progress")
    assert r.exit_code == 0, r.output
    return tmp_path / "run" / "model.pt", uri


def test_curves_come_from_mlflow_and_must_end_at_the_model_files_validation(trained, tmp_path):
    model_path, uri = trained
    state = torch.load(model_path, weights_only=True)
    history = MlflowClient(tracking_uri=uri).get_metric_history(state["mlflow_run_id"], "val_psnr")
    assert [m.step for m in history] == [2, 4]  # the metric name and steps the training loop logs

    out = tmp_path / "fig" / "curves"
    r = invoke("figure", "curves", "--model", f"tiny={model_path}", "--model", f"again={model_path}", "--out-stem", out,
               "--tracking-uri", uri)
    assert r.exit_code == 0, r.output
    assert_png_and_pdf([out.with_suffix(".png"), out.with_suffix(".pdf")], out)
    rows = list(csv.DictReader(out.with_suffix(".csv").open()))
    assert [(r["label"], int(r["step"]), float(r["psnr"])) for r in rows[:2]] == \
        [("tiny", m.step, m.value) for m in sorted(history, key=lambda m: m.step)]
    assert float(rows[1]["psnr"]) == state["val"]["val_psnr"] and len(rows) == 4

    state["val"]["val_psnr"] += 0.5  # a model file that does not belong to its run
    bad = tmp_path / "bad.pt"
    torch.save(state, bad)
    r = invoke("figure", "curves", "--model", f"bad={bad}", "--out-stem", out, "--tracking-uri", uri)
    assert r.exit_code == 1
    assert f"{bad}" in r.output and state["mlflow_run_id"] in r.output and "do not belong together" in r.output

    del state["mlflow_run_id"]
    torch.save(state, bad)
    r = invoke("figure", "curves", "--model", f"bad={bad}", "--out-stem", out, "--tracking-uri", uri)
    assert r.exit_code == 1 and "no mlflow_run_id" in r.output
    r = invoke("figure", "curves", "--model", f"{bad}", "--out-stem", out, "--tracking-uri", uri)
    assert r.exit_code == 2 and "expected LABEL=PATH" in r.output

"""MC sweep (paper §4.5) and AKLD of noise generation (§4.6): library, commands and tables."""
import json

import pytest
import torch
from click.testing import CliRunner
from mlflow.tracking import MlflowClient

from invdn.cli import main
from invdn.data import find_pairs
from invdn.analysis.mc_sweep import mc_sweep, running_means

from helpers import REPO, perturbed_invdn

REFERENCE = REPO / "results" / "reference_numbers.yaml"


@pytest.fixture(scope="module")
def model():
    return perturbed_invdn()


def test_running_means_are_prefix_means():
    x = torch.arange(5 * 2, dtype=torch.float64).reshape(5, 2)
    means = running_means(x, [1, 2, 5])
    assert torch.equal(means[1], x[0]) and torch.equal(means[2], x[:2].mean(0)) and torch.equal(means[5], x.mean(0))


def test_sweep_record_is_consistent(model, tiny_data):
    pairs = find_pairs(tiny_data["val"])
    record, images = mc_sweep(model, pairs, counts=[4, 1, 2], seed=3)
    assert record["counts"] == [1, 2, 4] and [c["mc_samples"] for c in record["curve"]] == [1, 2, 4]
    for c in record["curve"]:
        values = record["per_image"][str(c["mc_samples"])]["psnr"]
        assert len(values) == len(pairs) and c["psnr"] == pytest.approx(sum(values) / len(values), abs=1e-12)
        assert c["psnr_ci"]["low"] <= c["psnr"] <= c["psnr_ci"]["high"] and 0 <= c["fraction_improved"] <= 1
        assert c["seconds_per_image"] > 0
    assert record["curve"][0]["fraction_improved"] == 0 and record["curve"][0]["gain_over_single"]["mean"] == 0
    assert set(images) == {"noisy", "clean", "mc1", "mc2", "mc4"}
    again, _ = mc_sweep(model, pairs, counts=[1, 2, 4], seed=3)
    assert again["per_image"] == record["per_image"]  # seeded per image


def test_sweep_refuses_bad_counts(model, tiny_data):
    with pytest.raises(ValueError, match="counts must be integers >= 1"):
        mc_sweep(model, find_pairs(tiny_data["val"]), counts=[0, 2])


def test_commands_write_tracked_records_figures_and_tables(model, tiny_data, tmp_path):
    weights = tmp_path / "m.pt"
    torch.save({"format": "invdn-repro/model/1", "arch": model.arch.to_dict(), "model": model.state_dict()}, weights)
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    run = CliRunner().invoke
    sweep = tmp_path / "analysis" / "mc_sweep.json"
    r = run(main, ["mc-sweep", "--checkpoint", str(weights), "--data", str(tiny_data["val"]), "--counts", "1,2,4",
                   "--out", str(sweep), "--tracking-uri", uri, "--no-progress"])
    assert r.exit_code == 0, r.output
    for name in ("mc_sweep_curve.png", "mc_sweep_curve.pdf", "mc_sweep_residuals.jpg"):
        assert (sweep.parent / name).stat().st_size > 1000, name
    record = json.loads(sweep.read_text())
    client = MlflowClient(tracking_uri=uri)
    tracked = client.get_run(record["mlflow"]["run_id"])
    assert tracked.info.status == "FINISHED" and tracked.data.metrics["psnr_mc4"] == record["curve"][2]["psnr"]
    artifacts = {a.path for a in client.list_artifacts(tracked.info.run_id)}
    assert {"mc_sweep.json", "mc_sweep_curve.png", "mc_sweep_residuals.jpg"} <= artifacts

    r = run(main, ["table", "mc", "--sweep", str(sweep), "--reference", str(REFERENCE), "--out-stem",
                   str(tmp_path / "mc"), "--tracking-uri", uri])
    assert r.exit_code == 0, r.output
    tex = (tmp_path / "mc.tex").read_text()
    assert tex.count(r"\textbf{") >= 2  # the best mean PSNR and SSIM
    md = (tmp_path / "mc.md").read_text().replace("**", "")
    c4 = record["curve"][2]  # one training seed: the run's mean and its interval over images
    assert f"| 4 | {c4['psnr']:.2f} [{c4['psnr_ci']['low']:.2f}, {c4['psnr_ci']['high']:.2f}] |" in md
    assert r"\toprule" in tex and "Paper" in tex and len((tmp_path / "mc.csv").read_text().splitlines()) == 4

    akld = tmp_path / "analysis" / "akld.json"
    r = run(main, ["akld", "--checkpoint", str(weights), "--data", str(tiny_data["val"]), "--samples", "3",
                   "--eps", "0.01", "--out", str(akld), "--tracking-uri", uri, "--no-progress"])
    assert r.exit_code == 0, r.output
    rec = json.loads(akld.read_text())
    assert rec["akld"] > 0 and rec["samples"] == 3 and len(rec["images"]) == rec["num_images"]
    r = run(main, ["table5", "--akld", str(akld), "--reference", str(REFERENCE), "--out", str(tmp_path / "t5"),
                   "--tracking-uri", uri])
    assert r.exit_code == 0, r.output
    t5 = (tmp_path / "t5.md").read_text()
    assert f"InvDN (L = 3, ε = 0.01) | **{rec['akld']:.3g} [" in t5  # the only measured row: bold
    assert "not like-for-like" in t5 and "| *Reported* |" in t5

    # a record edited after the fact no longer matches its MLflow run: the table refuses it
    rec["akld"] += 0.1
    akld.write_text(json.dumps(rec))
    r = run(main, ["table5", "--akld", str(akld), "--reference", str(REFERENCE), "--out", str(tmp_path / "t5"),
                   "--tracking-uri", uri])
    assert r.exit_code == 1 and "akld.json: akld is" in r.output


def test_akld_grows_with_eps(model, tiny_data):
    from invdn.inference.noise import invdn_generator, score_generation

    pairs = find_pairs(tiny_data["val"])
    small = score_generation(pairs, invdn_generator(model, samples=2, eps=1e-4))["akld"]
    large = score_generation(pairs, invdn_generator(model, samples=2, eps=0.3))["akld"]
    assert small < large


def test_akld_of_a_folder_of_generated_images_equals_the_generator_s(model, tiny_data, tmp_path):
    """generate-noise PNGs scored from the folder: the generator's AKLD up to 8-bit quantisation."""
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    weights = tmp_path / "m.pt"
    torch.save({"format": "invdn-repro/model/1", "arch": model.arch.to_dict(), "model": model.state_dict()}, weights)
    run = CliRunner().invoke
    r = run(main, ["generate-noise", str(tiny_data["val"] / "Noisy"), "--checkpoint", str(weights), "--samples", "2",
                   "--eps", "0.05", "--out-dir", str(tmp_path / "gen")])
    assert r.exit_code == 0, r.output
    outs = {}
    for flag in (["--checkpoint", str(weights)], ["--generated", str(tmp_path / "gen"), "--generator", "mine"]):
        out = tmp_path / f"{flag[0][2:]}.json"
        r = run(main, ["akld", *flag, "--data", str(tiny_data["val"]), "--samples", "2", "--eps", "0.05",
                       "--out", str(out), "--tracking-uri", uri, "--no-progress"])
        assert r.exit_code == 0, r.output
        outs[flag[0]] = json.loads(out.read_text())
    assert outs["--generated"]["generator"] == "mine"
    assert outs["--generated"]["akld"] == pytest.approx(outs["--checkpoint"]["akld"], rel=0.05)
    r = run(main, ["akld", "--data", str(tiny_data["val"]), "--out", str(tmp_path / "x.json")])
    assert r.exit_code != 0 and "exactly one of --checkpoint" in r.output


def test_pgap_is_the_paired_psnr_difference_on_the_same_images():
    from invdn.analysis.pgap import pgap_record

    real = {"protocol": "canonical", "images": [{"name": "a", "psnr": 30.0}, {"name": "b", "psnr": 32.0}]}
    gen = {"protocol": "canonical", "images": [{"name": "b", "psnr": 31.0}, {"name": "a", "psnr": 29.5}]}
    rec = pgap_record(real, gen)
    assert rec["pgap"] == pytest.approx(0.75) and rec["psnr_real"] == 31.0 and rec["psnr_generated"] == 30.25
    assert rec["pgap_ci"]["low"] == pytest.approx(0.5) and rec["pgap_ci"]["high"] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="different images"):
        pgap_record(real, {"protocol": "canonical", "images": [{"name": "a", "psnr": 1.0}]})
    with pytest.raises(ValueError, match="protocols differ"):
        pgap_record(real, {**gen, "protocol": "y"})

"""Catalogue of bad inputs: one test per kind, each asserting that the error names the offending
file (or config key) and says what was expected.

Images and data folders
  png_truncated              a PNG cut short: "could not be decoded ... truncated"
  png_not_an_image           a text file named .png: "not a readable image file (expected an 8-bit RGB PNG)"
  png_grayscale              an 8-bit grayscale PNG where RGB is expected: "found mode 'L'"
  png_rgba                   a translucent RGBA PNG: refused, naming its transparent pixels
  pair_size_mismatch         noisy and clean of different sizes: both files and both sizes named
  noisy_without_clean        Noisy/x.png with no GT/x.*: "has no partner"
  lq_wrong_size              an LQ image that is not the clean size / 4
  data_folder_empty          an empty data folder: "Noisy: folder not found; expected Noisy/, GT/"
  data_subfolder_empty       Noisy/ and GT/ present but without images: "no images found"
Sizes not divisible by 2**down_blocks
  odd_size_denoise_padded    NOT an error (documented): a 37x50 image is reflect-padded, denoised, cropped to 37x50
  patch_size_not_divisible   train.patch_size not divisible by 2**model.down_blocks: both keys named
MATLAB files (v5 and v7.3 are both read transparently, so the bad kinds are the files that are neither)
  mat_wrong_key              a SIDD blocks file whose variable has another name: the names present are listed
  mat_wrong_shape            SIDD blocks of the wrong shape: "expected uint8 sRGB blocks of shape (A, B, 256, 256, 3)"
  mat_wrong_dtype            SIDD blocks stored as double: same message, class named
  mat_not_a_matfile          a text file named .mat: "not a readable MATLAB .mat file"
  mat_v73_header_no_hdf5     a v7.3 header without its HDF5 body (a truncated download)
  dnd_info_without_boxes     DND info.mat whose 'info' lacks 'boundingboxes': the fields present are listed
  sidd_submission_wrong_shape  SubmitSrgb.mat from blocks of the wrong shape: refused before writing, file named
Configuration
  config_key_missing         data.train left out: "data: 'train' is a required property", file named
  config_key_wrong_type      train.batch_size: two: "train.batch_size: 'two' is not of type 'integer'"
  config_key_unknown         a misspelt key (train.iteration): "Additional properties ... 'iteration'"
  variant_unknown_transform  model.transform: wavelet: the known transforms listed
  variant_unknown_subnet     model.subnet: unet: the known subnets listed
  yaml_invalid               a YAML syntax error: "not valid YAML", file named
  yaml_not_utf8              a Latin-1 config file: "not UTF-8 text", file named
  cli_tag_without_equals     `invdn train --tag foo`: usage error (exit 2) "expected KEY=VALUE"
Checkpoints and weights
  checkpoint_other_arch      an InvDN model file (1 block per scale) loaded into an InvDN of inv_blocks 2
  checkpoint_arch_mismatch   a model file whose recorded architecture does not fit its weights: both values named
  checkpoint_baseline_network  a DnCNN model file given to invdn.models.load_model
  official_weights_missing_keys  an official-style state dict with a key missing, no flags: every missing key listed
  pdparams_with_code         a .pdparams pickle that would run code: refused, and the code never runs
  pth_with_code              a .pth pickle that would run code: refused by weights_only, never runs; one line, no
                             advice to load it with weights_only=False
  checkpoint_truncated       a torch.save file cut short: "it may be truncated"
Writing results
  disk_full_checkpoint       ENOSPC while writing a checkpoint: path named, errno kept, no temporary, old file kept
  disk_full_patch            ENOSPC while writing a PNG patch: same guarantees
  results_folder_unwritable  a chmod 0500 results folder (skipped when running as root)
  results_parent_is_file     the results "folder" is a regular file (root-proof): both paths named
  cli_output_parent_is_file  the same through `invdn validate-data --out`: "error: ..." naming the path, exit 1
Training
  nan_loss                   a NaN loss: step, source files and the saved checkpoint named

Each case is ``Case(kind, provoke, error, match, after)``: ``provoke(ctx)`` must raise ``error``
whose message matches ``match`` (``re.search`` with DOTALL; ``<tmp>`` stands for the test's
tmp_path, so the full path is checked); ``after(ctx, err)`` checks what is left on disk. ``error``
None marks documented behaviour that must *not* fail. CLI-only kinds raise ``CliExit`` with the
command's output and exit code.
"""
from __future__ import annotations

import errno
import os
import pickle
import re
from functools import cached_property
from pathlib import Path
from typing import Callable, NamedTuple

import numpy as np
import pytest
import scipy.io
import torch
import yaml
from click.testing import CliRunner
from PIL import Image

from invdn.engine import checkpoint
from invdn.engine.checkpoint import CheckpointError
from invdn.atomic import write_text_atomic
from invdn.config import ConfigError, load_yaml, run_config
from invdn.data import DataLayoutError, ImageError, find_pairs, load_pair, read_rgb, write_rgb
from invdn.data.benchmarks.dnd import read_dnd_boxes
from invdn.data.benchmarks.matfiles import MatFileError
from invdn.data.benchmarks.sidd_blocks import read_sidd_blocks
from invdn.inference.modes import denoise, image_generator
from invdn.models import Architecture, InvDN, load_model
from invdn.models.weights import WeightsError, load_into, read_pdparams, read_state_dict
from invdn.submission.files import SubmissionError, write_sidd_submission
from invdn.engine.trainer import NonFiniteLossError

from helpers import tiny_run_config

TINY = Architecture(down_blocks=2, inv_blocks=1)


class CliExit(Exception):
    """A CLI run that failed as expected: the message is its output, ``code`` its exit code."""

    def __init__(self, output: str, code: int):
        super().__init__(output)
        self.code = code


class Ctx:
    """What a case may use: a fresh tmp folder, monkeypatch, and the tiny data (built on demand)."""

    def __init__(self, tmp: Path, monkeypatch, request):
        self.tmp, self.monkeypatch, self._request = tmp, monkeypatch, request

    @cached_property
    def data(self) -> dict[str, Path]:
        return self._request.getfixturevalue("tiny_data")


class Case(NamedTuple):
    kind: str
    provoke: Callable[[Ctx], object]
    error: type[BaseException] | None
    match: str
    after: Callable[[Ctx, BaseException], None] | None = None


# ------------------------------------------------------------------------------------------ helpers
def rgb(h: int = 16, w: int = 16, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def save_png(path: Path, image: np.ndarray) -> Path:
    """(H, W) uint8 -> a grayscale PNG, (H, W, 3) -> RGB, (H, W, 4) -> RGBA."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(image).save(path, format="PNG")
    return path


def pair_folder(root: Path, names=("a",), size=(16, 16)) -> Path:
    for name in names:
        save_png(root / "Noisy" / f"{name}.png", rgb(*size))
        save_png(root / "GT" / f"{name}.png", rgb(*size, seed=1))
    return root


def config_file(ctx: Ctx, change: Callable[[dict], None]) -> Path:
    """A YAML run config of the tiny data with ``change`` applied, written to <tmp>/run.yaml."""
    raw = tiny_run_config(ctx.data)
    change(raw)
    path = ctx.tmp / "run.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    return path


def load_config(path: Path):
    return run_config(load_yaml(path), str(path))


def tiny_model_file(path: Path, arch: Architecture = TINY, **extra) -> Path:
    torch.manual_seed(0)
    checkpoint.save(path, {**checkpoint.model_state(InvDN(arch)), **extra})
    return path


def disk_full(target) -> None:
    """Write a few bytes to ``target`` (a path or a file object) and fail as a full disk does."""
    if isinstance(target, (str, os.PathLike)):
        with open(target, "wb") as f:
            f.write(b"partial")
    else:
        target.write(b"partial")
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


class _Exploit:
    """A pickle payload that would create ``marker`` when unpickled by a plain pickle.load."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


# ------------------------------------------------------------------------- images and data folders
def png_truncated(ctx):
    path = save_png(ctx.tmp / "cut.png", rgb(32, 32))
    path.write_bytes(path.read_bytes()[:300])
    read_rgb(path)


def png_not_an_image(ctx):
    path = ctx.tmp / "notes.png"
    path.write_text("these are not pixels\n")
    read_rgb(path)


def png_grayscale(ctx):
    read_rgb(save_png(ctx.tmp / "gray.png", rgb()[..., 0]))


def png_rgba(ctx):
    alpha = np.full((16, 16), 255, np.uint8)
    alpha[0, 0] = 0  # one transparent pixel (a fully opaque RGBA is read as its RGB)
    read_rgb(save_png(ctx.tmp / "alpha.png", np.dstack([rgb(), alpha])))


def pair_size_mismatch(ctx):
    root = pair_folder(ctx.tmp / "data")
    save_png(root / "GT" / "a.png", rgb(16, 20))
    load_pair(find_pairs(root)[0])


def noisy_without_clean(ctx):
    root = pair_folder(ctx.tmp / "data")
    save_png(root / "Noisy" / "orphan.png", rgb())
    find_pairs(root)


def lq_wrong_size(ctx):
    root = pair_folder(ctx.tmp / "data", size=(16, 16))
    save_png(root / "LQ" / "a.png", rgb(5, 5))
    load_pair(find_pairs(root, require_lq=True)[0], lq_scale=4)


def data_folder_empty(ctx):
    (ctx.tmp / "empty").mkdir()
    find_pairs(ctx.tmp / "empty")


def data_subfolder_empty(ctx):
    for sub in ("Noisy", "GT"):
        (ctx.tmp / "data" / sub).mkdir(parents=True)
    (ctx.tmp / "data" / "Noisy" / "readme.txt").write_text("images go here")
    find_pairs(ctx.tmp / "data")


# ---------------------------------------------------------------------------------------- sizes
def odd_size_denoise_padded(ctx):
    """Documented policy: evaluation reflect-pads to a multiple of 2**down_blocks and crops back."""
    torch.manual_seed(0)
    model = InvDN(TINY).eval()
    noisy = torch.rand(1, 3, 37, 50)
    out = denoise(model, noisy, [image_generator(0, "odd")])
    assert out.shape == (1, 3, 37, 50) and torch.isfinite(out).all()


def patch_size_not_divisible(ctx):
    load_config(config_file(ctx, lambda raw: raw["train"].update(patch_size=18)))


# --------------------------------------------------------------------------------- MATLAB files
def mat_wrong_key(ctx):
    path = ctx.tmp / "ValidationNoisyBlocksSrgb.mat"
    scipy.io.savemat(path, {"NoisyBlocks": np.zeros((1, 1, 256, 256, 3), np.uint8)})
    read_sidd_blocks(path)


def mat_wrong_shape(ctx):
    path = ctx.tmp / "ValidationNoisyBlocksSrgb.mat"
    scipy.io.savemat(path, {"ValidationNoisyBlocksSrgb": np.zeros((1, 2, 64, 64, 3), np.uint8)})
    read_sidd_blocks(path)


def mat_wrong_dtype(ctx):
    path = ctx.tmp / "ValidationNoisyBlocksSrgb.mat"
    scipy.io.savemat(path, {"ValidationNoisyBlocksSrgb": np.zeros((1, 1, 256, 256, 3), np.float64)})
    read_sidd_blocks(path)


def mat_not_a_matfile(ctx):
    path = ctx.tmp / "ValidationGtBlocksSrgb.mat"
    path.write_text("<html>404 Not Found</html>\n")
    read_sidd_blocks(path)


def mat_v73_header_no_hdf5(ctx):
    path = ctx.tmp / "info.mat"
    text = b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Mon Jan  1 00:00:00 2018 HDF5 schema 1.00 ."
    path.write_bytes(text.ljust(116, b" ") + b"\x00" * 8 + b"\x00\x02" + b"IM")  # the header, nothing after
    read_dnd_boxes(path)


def dnd_info_without_boxes(ctx):
    path = ctx.tmp / "info.mat"
    scipy.io.savemat(path, {"info": {"camera": "nexus6p", "boxes": np.ones((20, 4))}})
    read_dnd_boxes(path)


def sidd_submission_wrong_shape(ctx):
    write_sidd_submission(ctx.tmp / "SubmitSrgb.mat", np.zeros((2, 3, 128, 128, 3), np.uint8), 0.1,
                          expected_grid=None)


def _nothing_written(ctx, err):
    assert list(ctx.tmp.iterdir()) == []


# ------------------------------------------------------------------------------------ configuration
def config_key_missing(ctx):
    load_config(config_file(ctx, lambda raw: raw["data"].pop("train")))


def config_key_wrong_type(ctx):
    load_config(config_file(ctx, lambda raw: raw["train"].update(batch_size="two")))


def config_key_unknown(ctx):
    load_config(config_file(ctx, lambda raw: raw["train"].update(iteration=10)))


def variant_unknown_transform(ctx):
    load_config(config_file(ctx, lambda raw: raw["model"].update(transform="wavelet")))


def variant_unknown_subnet(ctx):
    load_config(config_file(ctx, lambda raw: raw["model"].update(subnet="unet")))


def yaml_invalid(ctx):
    path = ctx.tmp / "broken.yaml"
    path.write_text("train:\n  iterations: [1, 2\n")
    load_yaml(path)


def yaml_not_utf8(ctx):
    path = ctx.tmp / "latin1.yaml"
    path.write_bytes("data:\n  val_name: caf\u00e9 set\n".encode("latin-1"))
    load_yaml(path)


def cli_tag_without_equals(ctx):
    from invdn.cli import main

    cfg = config_file(ctx, lambda raw: None)
    r = CliRunner().invoke(main, ["train", "--config", str(cfg), "--out-dir", str(ctx.tmp / "run"), "--tag", "seed0",
                                  "--no-progress"])
    assert r.exit_code == 2, r.output  # click's usage-error code; known library errors exit 1
    raise CliExit(r.output, r.exit_code)


# ---------------------------------------------------------------------------- checkpoints, weights
def checkpoint_other_arch(ctx):
    path = tiny_model_file(ctx.tmp / "tiny.pt")
    load_into(InvDN(Architecture(down_blocks=2, inv_blocks=2)), read_state_dict(path), str(path))


def checkpoint_arch_mismatch(ctx):
    path = tiny_model_file(ctx.tmp / "relabelled.pt")
    state = checkpoint.load(path)
    state["arch"] = {**state["arch"], "inv_blocks": 2}
    checkpoint.save(path, state)
    load_model(path)


def checkpoint_baseline_network(ctx):
    from baselines.learned import network_run_config, network_task
    from invdn.engine.trainer import train

    raw = tiny_run_config(ctx.data, iterations=1, checkpoint_every=1)
    raw["model"] = {"network": "dncnn", "depth": 3, "features": 8}
    result = train(network_run_config(raw), ctx.tmp / "dncnn", progress=False, task=network_task)
    load_model(result.model_path)


def official_weights_missing_keys(ctx):
    torch.manual_seed(0)
    state = InvDN(TINY).state_dict()
    del state["operations.1.F.conv1.weight"]
    path = ctx.tmp / "InvDN_ResUnit_x4.pth"
    torch.save({f"module.{k}": v for k, v in state.items()}, path)  # official files may be DataParallel-prefixed
    load_model(path)  # the architecture is still read off the file: one tensor is missing, not its module


def pdparams_with_code(ctx):
    path = ctx.tmp / "evil.pdparams"
    with path.open("wb") as f:
        pickle.dump({"operations.1.F.conv1.weight": _Exploit(ctx.tmp / "pwned")}, f, protocol=2)
    read_pdparams(path)


def pth_with_code(ctx):
    path = ctx.tmp / "evil.pth"
    torch.save({"operations.1.F.conv1.weight": _Exploit(ctx.tmp / "pwned")}, path)
    load_model(path)


def _no_code_ran(ctx, err):
    assert not (ctx.tmp / "pwned").exists()


def checkpoint_truncated(ctx):
    path = tiny_model_file(ctx.tmp / "step00000004.pt")
    path.write_bytes(path.read_bytes()[:2000])
    load_model(path)


# ------------------------------------------------------------------------------------ writing results
def disk_full_checkpoint(ctx):
    path = ctx.tmp / "ckpt" / "step00000002.pt"
    checkpoint.save(path, {"format": checkpoint.TRAINING_FORMAT, "step": 1})
    with pytest.MonkeyPatch.context() as mp:  # undone before the checks of _checkpoint_unchanged
        mp.setattr(torch, "save", lambda obj, f, *a, **k: disk_full(f))
        checkpoint.save(path, {"format": checkpoint.TRAINING_FORMAT, "step": 2})


def _checkpoint_unchanged(ctx, err):
    assert err.errno == errno.ENOSPC
    assert [p.name for p in (ctx.tmp / "ckpt").iterdir()] == ["step00000002.pt"]  # no temporary left
    assert checkpoint.load(ctx.tmp / "ckpt" / "step00000002.pt")["step"] == 1


def disk_full_patch(ctx):
    path = ctx.tmp / "patches" / "Noisy" / "0_0.PNG"
    write_rgb(path, rgb(seed=1))
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(Image.Image, "save", lambda self, fp, *a, **k: disk_full(fp))
        write_rgb(path, rgb(seed=2))


def _patch_unchanged(ctx, err):
    assert err.errno == errno.ENOSPC
    folder = ctx.tmp / "patches" / "Noisy"
    assert [p.name for p in folder.iterdir()] == ["0_0.PNG"]
    np.testing.assert_array_equal(read_rgb(folder / "0_0.PNG"), rgb(seed=1))


def results_folder_unwritable(ctx):
    folder = ctx.tmp / "results"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        if os.access(folder, os.W_OK):  # root (or a capability) ignores the mode bits
            pytest.skip("running with permission to write into a 0500 folder (root?): see results_parent_is_file")
        write_text_atomic(folder / "metrics.json", "{}")
    finally:
        folder.chmod(0o700)


def results_parent_is_file(ctx):
    (ctx.tmp / "results").write_text("a file where the results folder should be")
    checkpoint.save(ctx.tmp / "results" / "run" / "model.pt", {"format": checkpoint.MODEL_FORMAT})


def cli_output_parent_is_file(ctx):
    from invdn.cli import main

    data = pair_folder(ctx.tmp / "data")
    (ctx.tmp / "results").write_text("a file where the results folder should be")
    r = CliRunner().invoke(main, ["validate-data", "--data", str(data), "--out", str(ctx.tmp / "results" / "manifest.json")])
    assert r.exit_code == 1, r.output
    raise CliExit(r.output, r.exit_code)


# ------------------------------------------------------------------------------------------ training
def nan_loss(ctx):
    from invdn.losses import Objective
    from invdn.engine.trainer import train

    original = Objective.__call__

    def nan_at_step_2(self, *args, **kwargs):
        out = original(self, *args, **kwargs)
        nan_at_step_2.calls += 1
        if nan_at_step_2.calls == 2:
            out["total"] = out["total"] * float("nan")
        return out

    nan_at_step_2.calls = 0
    ctx.monkeypatch.setattr(Objective, "__call__", nan_at_step_2)
    train(run_config(tiny_run_config(ctx.data, iterations=3)), ctx.tmp / "run", progress=False)


# ------------------------------------------------------------------------------------------ the table
CASES: list[Case] = [
    Case("png_truncated", png_truncated, ImageError, r"<tmp>/cut\.png: the image could not be decoded .*truncated"),
    Case("png_not_an_image", png_not_an_image, ImageError,
         r"<tmp>/notes\.png: not a readable image file \(expected an 8-bit RGB PNG\)"),
    Case("png_grayscale", png_grayscale, ImageError, r"<tmp>/gray\.png: expected an 8-bit RGB image, found mode 'L'"),
    Case("png_rgba", png_rgba, ImageError,
         r"<tmp>/alpha\.png: an RGBA image with transparent pixels \(1 with alpha < 255, lowest 0\).*export it as RGB"),
    Case("pair_size_mismatch", pair_size_mismatch, ImageError,
         r"<tmp>/data/Noisy/a\.png is 16x16 but its clean partner <tmp>/data/GT/a\.png is 20x16: a pair must have the same size"),
    Case("noisy_without_clean", noisy_without_clean, DataLayoutError,
         r"unmatched images:.*<tmp>/data/Noisy/orphan\.png has no partner <tmp>/data/GT/orphan\.\*"),
    Case("lq_wrong_size", lq_wrong_size, ImageError,
         r"<tmp>/data/LQ/a\.png is 5x5; expected the clean image <tmp>/data/GT/a\.png \(16x16\) downscaled by 4"),
    Case("data_folder_empty", data_folder_empty, DataLayoutError,
         r"<tmp>/empty/Noisy: folder not found; expected Noisy/, GT/ under <tmp>/empty"),
    Case("data_subfolder_empty", data_subfolder_empty, DataLayoutError,
         r"<tmp>/data/Noisy: no images found \(expected PNG files"),
    Case("odd_size_denoise_padded", odd_size_denoise_padded, None, ""),
    Case("patch_size_not_divisible", patch_size_not_divisible, ConfigError,
         r"<tmp>/run\.yaml: train\.patch_size 18 must be divisible by 2\*\*model\.down_blocks"),
    Case("mat_wrong_key", mat_wrong_key, MatFileError,
         r"<tmp>/ValidationNoisyBlocksSrgb\.mat: expected exactly one of the SIDD variables .*"
         r"the file holds \['NoisyBlocks'\]; pass key="),
    Case("mat_wrong_shape", mat_wrong_shape, MatFileError,
         r"<tmp>/ValidationNoisyBlocksSrgb\.mat: variable 'ValidationNoisyBlocksSrgb' is uint8 of shape "
         r"\(1, 2, 64, 64, 3\); expected uint8 sRGB blocks of shape \(A, B, 256, 256, 3\)"),
    Case("mat_wrong_dtype", mat_wrong_dtype, MatFileError,
         r"<tmp>/ValidationNoisyBlocksSrgb\.mat: variable 'ValidationNoisyBlocksSrgb' is double of shape "
         r"\(1, 1, 256, 256, 3\); expected uint8 sRGB blocks"),
    Case("mat_not_a_matfile", mat_not_a_matfile, MatFileError,
         r"<tmp>/ValidationGtBlocksSrgb\.mat: not a readable MATLAB \.mat file .*download or copy it again"),
    Case("mat_v73_header_no_hdf5", mat_v73_header_no_hdf5, MatFileError,
         r"<tmp>/info\.mat: has a MATLAB v7\.3 header but no readable HDF5 body; .*truncated"),
    Case("dnd_info_without_boxes", dnd_info_without_boxes, MatFileError,
         r"<tmp>/info\.mat: 'info' has no field 'boundingboxes' \(fields: \['camera', 'boxes'\]\); expected DND's info\.mat"),
    Case("sidd_submission_wrong_shape", sidd_submission_wrong_shape, SubmissionError,
         r"<tmp>/SubmitSrgb\.mat: denoised blocks are uint8 of shape \(2, 3, 128, 128, 3\); "
         r"expected uint8 of shape \(A, B, 256, 256, 3\)", _nothing_written),
    Case("config_key_missing", config_key_missing, ConfigError,
         r"<tmp>/run\.yaml: invalid configuration.*data: 'train' is a required property"),
    Case("config_key_wrong_type", config_key_wrong_type, ConfigError,
         r"<tmp>/run\.yaml: invalid configuration.*train\.batch_size: 'two' is not of type 'integer'"),
    Case("config_key_unknown", config_key_unknown, ConfigError,
         r"<tmp>/run\.yaml: invalid configuration.*train: Additional properties are not allowed \('iteration' was unexpected\)"),
    Case("variant_unknown_transform", variant_unknown_transform, ConfigError,
         r"<tmp>/run\.yaml: invalid configuration.*model\.transform: 'wavelet' is not one of \['haar', 'squeeze'\]"),
    Case("variant_unknown_subnet", variant_unknown_subnet, ConfigError,
         r"<tmp>/run\.yaml: invalid configuration.*model\.subnet: 'unet' is not one of \['resnet', 'densenet'\]"),
    Case("yaml_invalid", yaml_invalid, ConfigError, r"<tmp>/broken\.yaml: not valid YAML \(.*line 3"),
    Case("yaml_not_utf8", yaml_not_utf8, ConfigError, r"<tmp>/latin1\.yaml: .*UTF-8"),
    Case("cli_tag_without_equals", cli_tag_without_equals, CliExit,
         r"Invalid value for '?--tag'?: expected KEY=VALUE, got 'seed0'"),
    Case("checkpoint_other_arch", checkpoint_other_arch, WeightsError,
         r"<tmp>/tiny\.pt: weights do not fit InvDN \{.*'inv_blocks': 2.*\}.*missing \(\d+\): operations\.2\.F\.conv1\.bias"),
    Case("checkpoint_arch_mismatch", checkpoint_arch_mismatch, WeightsError,
         r"<tmp>/relabelled\.pt: weights have inv_blocks 1 \(coupling blocks at operations 1, 3\), "
         r"its recorded arch inv_blocks 2$"),
    Case("checkpoint_baseline_network", checkpoint_baseline_network, CheckpointError,
         r"<tmp>/dncnn/model\.pt: holds a 'dncnn' baseline network, not InvDN; score it with "
         r"`invdn evaluate-baseline --method dncnn --checkpoint <tmp>/dncnn/model\.pt`"),
    Case("official_weights_missing_keys", official_weights_missing_keys, WeightsError,
         r"<tmp>/InvDN_ResUnit_x4\.pth: weights do not fit InvDN .*missing \(1\): operations\.1\.F\.conv1\.weight$"),
    Case("pdparams_with_code", pdparams_with_code, WeightsError,
         r"<tmp>/evil\.pdparams: not a plain \.pdparams file of numpy arrays \(refused to load \w+\.system", _no_code_ran),
    Case("pth_with_code", pth_with_code, CheckpointError,
         r"^<tmp>/evil\.pth: refused: the file would build objects other than tensors and plain containers "
         r"\([^\n]*\w+\.system[^\n]*\)$", _no_code_ran),
    Case("checkpoint_truncated", checkpoint_truncated, CheckpointError,
         r"<tmp>/step00000004\.pt: not a readable checkpoint .*it may be truncated"),
    Case("disk_full_checkpoint", disk_full_checkpoint, OSError,
         r"cannot write <tmp>/ckpt/step00000002\.pt: No space left on device; the disk may be full.*"
         r"nothing was written \(the earlier file is unchanged\)", _checkpoint_unchanged),
    Case("disk_full_patch", disk_full_patch, OSError,
         r"cannot write <tmp>/patches/Noisy/0_0\.PNG: No space left on device; the disk may be full", _patch_unchanged),
    Case("results_folder_unwritable", results_folder_unwritable, PermissionError,
         r"cannot write <tmp>/results/metrics\.json: Permission denied; check that <tmp>/results exists and is writable"),
    Case("results_parent_is_file", results_parent_is_file, NotADirectoryError,
         r"cannot create the folder <tmp>/results/run for <tmp>/results/run/model\.pt: .*"
         r"<tmp>/results is a file, not a folder"),
    Case("cli_output_parent_is_file", cli_output_parent_is_file, CliExit,
         r"error: (\[Errno \d+\] )?cannot create the folder <tmp>/results for <tmp>/results/manifest\.json: .*"
         r"<tmp>/results is a file, not a folder"),
    Case("nan_loss", nan_loss, NonFiniteLossError,
         r"loss is nan at step 2 .*batch from: <tmp>/train/Noisy/0_\d\.PNG.*weights before this step: "
         r"<tmp>/run/checkpoints/\w+/before_nonfinite_step2\.pt"),
]


def _params():
    kinds = [c.kind for c in CASES]
    documented = {line.split()[0] for line in __doc__.splitlines() if line.startswith("  ")}
    assert len(kinds) == len(set(kinds)) >= 20, "kinds must be distinct, and at least 20"
    assert set(kinds) <= documented, f"undocumented kinds: {sorted(set(kinds) - documented)}"
    return [pytest.param(c, id=c.kind) for c in CASES]


@pytest.mark.parametrize("case", _params())
def test_bad_input(case: Case, tmp_path, monkeypatch, request):
    ctx = Ctx(tmp_path, monkeypatch, request)
    if case.error is None:  # documented behaviour, not an error
        case.provoke(ctx)
        return
    with pytest.raises(case.error) as info:
        case.provoke(ctx)
    message = str(info.value)
    pattern = case.match.replace("<tmp>", re.escape(str(tmp_path)))
    assert re.search(pattern, message, re.S), f"{case.kind}: message does not match\n  {pattern}\ngot\n  {message}"
    if case.after is not None:
        case.after(ctx, info.value)


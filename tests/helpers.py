"""What several test modules share: the repository's paths, tiny data and configs built from the bundled
real patches, small perturbed models, fixtures of the official file formats, a Snakemake runner, and
the LaTeX compile check. Fixtures (pytest's) live in conftest.py."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
BUNDLED = REPO / "data" / "SIDD_mini"
GRID = (2, 3)  # SIDD's is (40, 32): 252 MB, too big for a unit test


def crop_folder(src: Path, dst: Path, names: list[str], size: int, subs=("Noisy", "GT"), lq_scale: int = 4) -> Path:
    """Copy ``names`` from a bundled folder, cropped to size x size (LQ to size / lq_scale)."""
    for sub in subs:
        (dst / sub).mkdir(parents=True, exist_ok=True)
        for name in names:
            img = np.asarray(Image.open(src / sub / f"{name}.PNG"))
            s = size // lq_scale if sub == "LQ" else size
            Image.fromarray(np.ascontiguousarray(img[:s, :s])).save(dst / sub / f"{name}.PNG")
    return dst


def tiny_run_config(data: dict[str, Path], **train) -> dict:
    """A run config of a small InvDN (2 down-scale blocks x 1 coupling block) for fast tests."""
    return {
        "name": "tiny",
        "scale": "smoke",
        "data": {"train": str(data["train"]), "val": str(data["val"]), "val_name": "tiny val"},
        "model": {"down_blocks": 2, "inv_blocks": 1},
        "train": {
            "iterations": 4, "batch_size": 2, "patch_size": 16, "val_every": 0, "checkpoint_every": 2,
            "log_every": 1, "threads": 1, **train,
        },
    }


def psnr_cell(record: dict, mark: str = "†") -> str:
    """The Table 2 PSNR cell of a single-seed metrics record as LaTeX: the mean over its line, the
    tracked 95% interval below it (a stacked cell), each line ending in ``mark``."""
    from invdn.reporting.table import _latex_cell

    ci = record["protocols"]["canonical"]["psnr_ci"]
    return _latex_cell(f"{record['mean']['psnr']:.2f}\n[{ci['low']:.2f}, {ci['high']:.2f}]{mark}")


def perturbed_invdn(arch=None, seed: int = 0):
    """A small InvDN (default: 2 down-scale blocks x 1 coupling block; else the ``Architecture``
    given) in eval mode whose weights are moved away from the default initialisation (seeded), so
    that z draws change its outputs (a fresh densenet subnet outputs exactly 0)."""
    import torch

    from invdn.models import InvDN

    torch.manual_seed(seed)
    m = (InvDN(arch) if arch is not None else InvDN(inv_blocks=1)).eval()
    with torch.no_grad():
        for p in m.parameters():
            p.add_(0.02 * torch.randn_like(p))
    return m


def blocks(seed: int, grid=GRID) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, grid + (256, 256, 3), dtype=np.uint8)


def write_v73(path, variables: dict[str, np.ndarray] | None = None, build=None) -> None:
    """A MATLAB v7.3 file: HDF5 with a 512-byte user block holding MATLAB's 128-byte header.

    Arrays are stored as MATLAB does (column-major), i.e. transposed as h5py sees them.
    """
    with h5py.File(path, "w", userblock_size=512) as f:
        for name, value in (variables or {}).items():
            ds = f.create_dataset(name, data=np.asarray(value).T)
            ds.attrs["MATLAB_class"] = np.bytes_({"float32": "single", "float64": "double"}.get(
                value.dtype.name, value.dtype.name))
        if build is not None:
            build(f)
    text = b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Mon Jan  1 00:00:00 2018 HDF5 schema 1.00 ."
    header = text.ljust(116, b" ") + b"\x00" * 8 + b"\x00\x02" + b"IM"
    with open(path, "r+b") as fh:
        fh.write(header)


def write_dnd_info_v73(path, matrices: list[np.ndarray]) -> None:
    """info.mat as DND ships it: info.boundingboxes = (1, N) references to K x 4 matrices."""

    def build(f):
        refs = f.create_group("#refs#")
        info = f.create_group("info")
        info.attrs["MATLAB_class"] = np.bytes_("struct")
        bb = info.create_dataset("boundingboxes", (1, len(matrices)), dtype=h5py.ref_dtype)
        for i, m in enumerate(matrices):
            ds = refs.create_dataset(f"b{i}", data=np.asarray(m, dtype=np.float64).T)  # HDF5 (4, K)
            ds.attrs["MATLAB_class"] = np.bytes_("double")
            bb[0, i] = ds.ref

    write_v73(path, build=build)


class RecordingLogger:
    """A logger that keeps what the training loop logs."""

    def __init__(self):
        self.tags, self.metrics = {}, []

    def log_metrics(self, metrics, step=None):
        self.metrics.append((step, metrics))

    def log_artifact(self, path, artifact_path=None):
        pass

    def set_tags(self, tags):
        self.tags.update(tags)


def nan_at_call(monkeypatch, k: int) -> dict:
    """Make the k-th loss evaluated NaN (once); returns the call counter {"n": calls so far}."""
    from invdn.losses import Objective

    calls = {"n": 0}
    original = Objective.__call__

    def nan_once(self, *args, **kwargs):
        out = original(self, *args, **kwargs)
        calls["n"] += 1
        if calls["n"] == k:
            out["total"] = out["total"] * float("nan")
        return out

    monkeypatch.setattr(Objective, "__call__", nan_once)
    return calls


def residual_subnet_params(cin: int, cout: int, f: int = 64) -> int:
    """Conv weights + biases of the official ResBlock, counted by hand."""
    return (9 * cin * f + f) + (9 * f * f + f) + (9 * (cin + f) * cout + cout)


def invdn_params(channels: int, blocks: list[int]) -> int:
    total, c = 0, channels
    for n in blocks:
        c *= 4
        rest = c - channels
        per_block = residual_subnet_params(rest, channels) + 2 * residual_subnet_params(channels, rest)
        total += n * per_block
    return total


def snakemake(workdir: Path, config: Path, *extra: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"}  # the config's store, not a leftover
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    return subprocess.run(
        [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"), "--directory", str(workdir),
         "--configfile", str(config), "--cores", "2", *extra],
        env=env, capture_output=True, text=True, timeout=900,
    )


# ------------------------------------------------------------------------------------------ LaTeX
# Generated tables compiled the way a paper includes them (a two-column article with booktabs), to
# check that they compile and fit: a ``table`` within its column, a ``table*`` within the text width.

PREAMBLE = r"""\documentclass[10pt,twocolumn,letterpaper]{article}
\usepackage[margin=0.75in,columnsep=0.33in]{geometry}
\usepackage{booktabs}
\begin{document}
"""


def require_pdflatex() -> str:
    exe = shutil.which("pdflatex")
    if exe is None:
        pytest.skip("pdflatex not installed (apt-get install texlive-latex-base texlive-latex-recommended)")
    return exe


def compile_tables(tables: list[Path], workdir: Path) -> str:
    """Compile ``tables`` (.tex files of one table each) in one document; returns the log.

    Fails the test on a LaTeX error or an overfull box (a table wider than its column or page)."""
    exe = require_pdflatex()
    workdir.mkdir(parents=True, exist_ok=True)
    body = "\n".join(rf"\input{{{t.resolve()}}}" + "\n\\clearpage" for t in tables)
    doc = workdir / "tables.tex"
    doc.write_text(PREAMBLE + body + "\n\\end{document}\n")
    result = subprocess.run([exe, "-interaction=nonstopmode", "-halt-on-error", doc.name], cwd=workdir,
                            capture_output=True, text=True, errors="replace", timeout=120)
    log = (workdir / "tables.log").read_text(errors="replace") if (workdir / "tables.log").exists() else result.stdout
    assert result.returncode == 0, f"pdflatex failed on {[t.name for t in tables]}:\n{result.stdout[-3000:]}"
    overfull = re.findall(r"Overfull \\hbox \((\d+\.\d+)pt too wide\)[^\n]*\n", log)
    assert not overfull, f"tables wider than their column: {overfull} pt; log:\n{log[-3000:]}"
    return log

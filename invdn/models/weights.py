"""Importing InvDN weights: the official PyTorch state dict, PaddleGAN's ``.pdparams``, ours.

The official code (and its Paddle port) names parameters ``operations.<i>.haar_weights`` (the
fixed (4C, 1, 2, 2) Haar filters) and ``operations.<i>.{F,G,H}.conv<k>.{weight,bias}``, operations
numbered in order: Haar, its coupling blocks, next Haar, ...; ``InvDN`` uses the same names, so
importing is checking (missing, unexpected and mis-shaped keys are all listed in one error) plus
loading the file safely: PyTorch files with ``torch.load(weights_only=True)``, ``.pdparams``
(a pickled dict of numpy arrays) with an unpickler that admits numpy arrays and plain containers
only, so a crafted file cannot run code.

The model code was compared with the official ``Inv_arch.py`` / ``Subnet_constructor.py``
(Yang-Liu1082/InvDN): Haar filters, sub-band-major channel order, the coupling equations and
split (3 channels), ``ResBlock`` layout and operation numbering are the same, so the same weights
and the same z give the same latents and reverse outputs. The official ``haar_weights`` is a
frozen ``nn.Parameter`` (its ``print_network`` count, 2,641,200, includes its 240 entries); here it
is a buffer under the same key, so the trainable count is 2,640,960.
"""
from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import torch

from .invdn import Architecture, InvDN

# (module, name) pairs a .pdparams pickle may reference: numpy array reconstruction and dtypes
# (numpy 1 and 2 module paths), and ``_codecs.encode``, which protocol-2 pickles (PaddleGAN's
# ``ppgan.utils.filesystem.save``) use to store raw bytes; it converts text to bytes and calls
# nothing else. Dicts, lists, tuples and strings need no global at all.
_SAFE_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
    ("numpy", "ndarray"), ("numpy", "dtype"), ("collections", "OrderedDict"), ("_codecs", "encode"),
}


class WeightsError(ValueError):
    """Weights that cannot be imported; the message names the file and every problem."""


class _NumpyOnlyUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if (module, name) in _SAFE_GLOBALS:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refused to load {module}.{name}: only numpy arrays are allowed")


def read_pdparams(path: str | Path) -> dict[str, np.ndarray]:
    """Read a Paddle ``.pdparams`` file as {name: array} without executing anything it contains.

    Two layouts are read: ``paddle.save(model.state_dict())`` ({name: array}, plus Paddle's
    non-array bookkeeping entries, which are skipped) and PaddleGAN's trainer checkpoints
    ({"generator": {name: array}, ...}, the file its InvDN predictor loads).

    Raises:
        WeightsError: the pickle references anything but numpy arrays/dtypes, or holds no arrays.
    """
    path = Path(path)
    try:
        with path.open("rb") as f:
            obj = _NumpyOnlyUnpickler(f).load()
    except (pickle.UnpicklingError, EOFError, AttributeError, ValueError) as e:
        raise WeightsError(f"{path}: not a plain .pdparams file of numpy arrays ({e})") from None
    if not isinstance(obj, dict):
        raise WeightsError(f"{path}: expected a dict of arrays, found {type(obj).__name__}")
    if isinstance(obj.get("generator"), dict):
        obj = obj["generator"]
    arrays = {k: v for k, v in obj.items() if isinstance(v, np.ndarray)}
    if not arrays:
        raise WeightsError(f"{path}: no arrays found (top-level keys: {', '.join(map(str, obj)) or 'none'})")
    return arrays


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Read official or Paddle weights as {name: tensor}, with any ``module.`` prefix removed."""
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"{path}: file not found")
    if path.suffix == ".pdparams":
        raw = {k: torch.from_numpy(np.array(v)) for k, v in read_pdparams(path).items()}
    else:
        try:
            raw = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as e:
            raise WeightsError(f"{path}: not a PyTorch state dict loadable with weights_only=True ({e})") from None
        if isinstance(raw, dict) and "format" in raw and "model" in raw:
            raw = raw["model"]  # one of ours
        if not isinstance(raw, dict):
            raise WeightsError(f"{path}: expected a state dict, found {type(raw).__name__}")
    return {k.removeprefix("module."): v for k, v in raw.items() if torch.is_tensor(v)}


def load_into(model: InvDN, state: dict[str, torch.Tensor], source: str) -> InvDN:
    """Load ``state`` into ``model`` after checking every key and shape.

    Raises:
        WeightsError: listing each missing, unexpected and mis-shaped key (and the architecture).
    """
    expected = model.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    misshaped = sorted(
        f"{k}: file {tuple(state[k].shape)}, model {tuple(expected[k].shape)}"
        for k in set(expected) & set(state) if state[k].shape != expected[k].shape
    )
    if missing or unexpected or misshaped:
        parts = [f"{source}: weights do not fit InvDN {model.arch.to_dict()}"]
        for title, items in (("missing", missing), ("unexpected", unexpected), ("wrong shape", misshaped)):
            if items:
                parts.append(f"{title} ({len(items)}): " + ", ".join(items[:20]) + (" ..." if len(items) > 20 else ""))
        raise WeightsError("\n  ".join(parts))
    model.load_state_dict({k: v.to(expected[k].dtype) for k, v in state.items()})
    return model


def import_weights(path: str | Path, arch: Architecture | None = None) -> InvDN:
    """An InvDN (eval mode, CPU) with the weights of an official, Paddle or invdn-repro file.

    Reads the official PyTorch state dict (``InvDN_ResUnit_x4.pth``, optionally ``module.``-prefixed),
    Paddle ``.pdparams`` and this project's model files and training checkpoints. ``arch`` is the
    architecture of foreign files and defaults to the paper's (2 x 8, Haar, residual subnets); our
    own files carry their architecture, which is used instead.

    Raises:
        WeightsError: unreadable file, a pickle with anything but arrays, or weights that do not fit
            (every missing, unexpected and mis-shaped key listed).
    """
    path = Path(path)
    if path.suffix != ".pdparams":
        try:
            ours = torch.load(path, map_location="cpu", weights_only=True)
        except Exception:
            ours = None
        if isinstance(ours, dict) and "arch" in ours and "model" in ours:
            arch = Architecture.from_dict(ours["arch"])
    model = InvDN(arch or Architecture())
    return load_into(model, read_state_dict(path), str(path)).eval()


def load(path: str | Path, arch: Architecture | None = None, device: str | torch.device = "cpu") -> InvDN:
    """``invdn.models.load``: any supported weights file -> InvDN in eval mode on ``device``.

    The one call from a downloaded official file to a denoiser::

        model = invdn.models.load("InvDN_ResUnit_x4.pth")
        clean = invdn.ensembles.denoise(model, noisy, [invdn.ensembles.image_generator(0, "img")], 16)

    Formats and errors as ``import_weights``.
    """
    return import_weights(path, arch).to(device)

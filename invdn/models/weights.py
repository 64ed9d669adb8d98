"""The one loader of InvDN weights: this project's files, the official PyTorch state dict, Paddle's.

``load_model(path)`` is what every command calls. It reads

- this project's model files and training checkpoints (``invdn.engine.checkpoint``), which record their
  architecture (``arch``): that architecture is used, after checking it against the weights;
- the official state dict (``InvDN_ResUnit_x4.pth``, optionally ``module.``-prefixed) and Paddle
  ``.pdparams`` (``paddle.save`` or PaddleGAN's trainer layout), which record none: the
  architecture is read off the parameter names and shapes (``invdn.models.infer``), so no released
  file needs a flag.

Loading is safe: PyTorch files with ``torch.load(weights_only=True)``, ``.pdparams`` (a pickled
dict of numpy arrays) with an unpickler that admits numpy arrays and plain containers only, so a
crafted file cannot run code.

``InvDN`` names its parameters as the official code does (``operations.<i>...``, see
``invdn.models.infer``), so importing is inferring, checking (missing, unexpected and mis-shaped
keys are all listed in one error) and loading.

The model code was compared with the official ``Inv_arch.py`` / ``Subnet_constructor.py``
(Yang-Liu1082/InvDN): Haar filters, sub-band-major channel order, the coupling equations and
split (3 channels), ``ResBlock`` and ``DenseBlock`` layouts and operation numbering are the same, so
the same weights and the same z give the same latents and reverse outputs. The official
``haar_weights`` is a frozen ``nn.Parameter`` (its ``print_network`` count, 2,641,200, includes its
240 entries); here it is a buffer under the same key, so the trainable count is 2,640,960.
"""
from __future__ import annotations

import dataclasses
import pickle
from pathlib import Path
from typing import Mapping

import numpy as np
import torch

from invdn.engine.checkpoint import MODEL_FORMAT, TRAINING_FORMAT, CheckpointError
from invdn.engine.checkpoint import load as load_checkpoint
from invdn.models.infer import WeightsError, disagreements, infer_architecture
from invdn.models.invdn import Architecture, InvDN

# (module, name) pairs a .pdparams pickle may reference: numpy array reconstruction and dtypes
# (numpy 1 and 2 module paths), and ``_codecs.encode``, which protocol-2 pickles (PaddleGAN's
# ``ppgan.utils.filesystem.save``) use to store raw bytes; it converts text to bytes and calls
# nothing else. Dicts, lists, tuples and strings need no global at all.
_SAFE_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
    ("numpy", "ndarray"), ("numpy", "dtype"), ("collections", "OrderedDict"), ("_codecs", "encode"),
}


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
    """The weights of any file ``load_model`` reads, as {name: tensor}, ``module.`` prefixes removed.

    Raises:
        CheckpointError: missing, unreadable file, or a pickle with anything but tensors / arrays.
        WeightsError: not a dict of weights.
    """
    path = Path(path)
    if path.suffix == ".pdparams":
        if not path.is_file():
            raise WeightsError(f"{path}: file not found")
        return {k: torch.from_numpy(np.array(v)) for k, v in read_pdparams(path).items()}
    raw = load_checkpoint(path)
    if isinstance(raw, dict) and "format" in raw:
        raw = raw.get("model") or {}  # one of ours
    if not isinstance(raw, dict):
        raise WeightsError(f"{path}: expected a state dict, found {type(raw).__name__}")
    return {k.removeprefix("module."): v for k, v in raw.items() if torch.is_tensor(v)}


def _show(value) -> str:
    return str(list(value)) if isinstance(value, (list, tuple)) else str(value)


def _given(expect: Architecture | Mapping[str, object] | None) -> dict[str, object]:
    if expect is None:
        return {}
    given = expect.to_dict() if isinstance(expect, Architecture) else {k: v for k, v in expect.items() if v is not None}
    unknown = set(given) - {f.name for f in dataclasses.fields(Architecture)}
    if unknown:
        raise TypeError(f"unknown architecture field(s) {', '.join(sorted(unknown))}")
    return given


# ------------------------------------------------------------------------------------------ loading
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


def _build(arch: Architecture) -> InvDN:
    """A new InvDN whose initial weights (about to be overwritten) are drawn without touching the
    caller's random stream: loading a file leaves ``torch.manual_seed`` sequences where they were."""
    with torch.random.fork_rng(devices=[]):
        return InvDN(arch)


def _holds_tensors(value) -> bool:
    if torch.is_tensor(value):
        return True
    if isinstance(value, dict):
        return any(_holds_tensors(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(_holds_tensors(v) for v in value)
    return False


def load_model(
    path: str | Path, device: str | torch.device = "cpu", expect: Architecture | Mapping[str, object] | None = None,
) -> tuple[InvDN, dict]:
    """Any InvDN weights file -> (InvDN in eval mode on ``device``, metadata): the one loader.

    Files: this project's model files and training checkpoints; the official PyTorch state dict
    (``InvDN_ResUnit_x4.pth``, ``module.`` prefix or not); Paddle ``.pdparams`` (``paddle.save`` or
    PaddleGAN's ``{"generator": ...}``). The architecture of our files is the recorded ``arch``
    (checked against the weights); that of foreign files is inferred (``infer_architecture``).

    ``expect``: fields the caller asserts (an ``Architecture``, or a mapping such as the
    ``import-weights`` flags that were given); a field the file contradicts is an error naming
    both values. A foreign file whose layout is not recognised is still tried when ``expect``
    names down_blocks, inv_blocks, transform and subnet (an ``Architecture`` does; channels default
    to 3), so that what does not fit it is listed key by key. ``clamp`` is not stored in foreign
    files: ``expect``'s, else 1.0.

    Metadata: for our files, the file's entries without the tensors (``format``, ``arch``,
    ``name``, ``scale``, ``step``, ``config``, ...); for foreign ones ``format`` ("official" or
    "paddle"), ``source`` (the path), ``arch`` (inferred), ``name`` (the file stem) and
    ``scale`` ("released").

    Example::

        model, info = invdn.models.load_model("InvDN_ResUnit_x4.pth")
        clean = invdn.inference.modes.denoise(model, noisy, [invdn.inference.modes.image_generator(0, "img")], 16)

    Raises:
        CheckpointError: missing or unreadable file, a pickle that would build anything but tensors,
            an unusable recorded architecture, or a baseline network's model file.
        WeightsError (a CheckpointError): an unrecognised layout (what was found and what is
            expected), a contradiction between file and ``expect`` or between recorded ``arch`` and
            weights (both named), weights that do not fit (every missing, unexpected, mis-shaped key).
    """
    path = Path(path)
    given = _given(expect)
    if path.suffix == ".pdparams":
        model, info = _load_foreign(path, "paddle", read_state_dict(path), given)
        return model.to(device), info
    raw = load_checkpoint(path)
    if isinstance(raw, dict) and "format" in raw:
        model, info = _load_ours(path, raw, given)
    elif isinstance(raw, dict):
        state = {k.removeprefix("module."): v for k, v in raw.items() if torch.is_tensor(v)}
        if not state:  # e.g. weights nested one level down, as other training frameworks save them
            keys = ", ".join(map(str, list(raw)[:10])) or "none"
            raise WeightsError(f"{path}: no tensors at the top level (keys: {keys}); expected a state dict "
                               "{name: tensor} as the official code saves it, or an invdn-repro model file")
        model, info = _load_foreign(path, "official", state, given)
    else:
        raise WeightsError(f"{path}: expected a state dict or an invdn-repro model file, found {type(raw).__name__}")
    return model.to(device), info


def _load_foreign(path: Path, fmt: str, state: dict[str, torch.Tensor], given: dict) -> tuple[InvDN, dict]:
    try:
        found = infer_architecture(state, str(path), float(given.get("clamp", 1.0)))
    except WeightsError:
        if not {"down_blocks", "inv_blocks", "transform", "subnet"} <= set(given):
            raise
        arch = Architecture.from_dict(given)  # the caller named the architecture: list what does not fit it
    else:
        clash = disagreements(found.arch, given)
        if clash:
            raise WeightsError(f"{path}: " + "; ".join(
                f"file has {field} {_show(mine)} ({found.evidence[field]}), {field} {_show(theirs)} given"
                for field, mine, theirs in clash
            ))
        arch = found.arch
    model = load_into(_build(arch), state, str(path)).eval()
    return model, {"format": fmt, "source": str(path), "arch": arch.to_dict(), "name": path.stem, "scale": "released"}


def _load_ours(path: Path, raw: dict, given: dict) -> tuple[InvDN, dict]:
    if raw.get("format") not in (MODEL_FORMAT, TRAINING_FORMAT):
        raise CheckpointError(
            f"{path}: not an invdn-repro model file or training checkpoint (format {raw.get('format')!r})"
        )
    recorded = raw.get("arch")
    if isinstance(recorded, dict) and "network" in recorded:
        raise CheckpointError(
            f"{path}: holds a {recorded['network']!r} baseline network, not InvDN; score it with "
            f"`invdn evaluate-baseline --method {recorded['network']} --checkpoint {path}`"
        )
    try:
        arch = Architecture.from_dict(recorded)
        arch.blocks_per_scale()
    except (TypeError, ValueError, KeyError) as e:
        raise CheckpointError(f"{path}: unusable architecture {recorded!r} ({e})") from None
    state = {k: v for k, v in (raw.get("model") or {}).items() if torch.is_tensor(v)}
    try:
        found = infer_architecture(state, str(path), arch.clamp)
    except WeightsError:
        found = None  # load_into below lists what does not fit the recorded architecture
    clash = [] if found is None else [
        f"weights have {field} {_show(mine)} ({found.evidence[field]}), its recorded arch {field} {_show(theirs)}"
        for field, mine, theirs in disagreements(found.arch, arch.to_dict())
    ]
    clash += [f"file has {field} {_show(mine)} (its recorded arch), {field} {_show(theirs)} given"
              for field, mine, theirs in disagreements(arch, given)]
    if clash:
        raise WeightsError(f"{path}: " + "; ".join(clash))
    model = load_into(_build(arch), state, str(path)).eval()
    return model, {k: v for k, v in raw.items() if not _holds_tensors(v)}

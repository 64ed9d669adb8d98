"""The one loader of InvDN weights: this project's files, the official PyTorch state dict, Paddle's.

``load_model(path)`` is what every command calls. It reads

- this project's model files and training checkpoints (``invdn.checkpoint``), which record their
  architecture (``arch``): that architecture is used, after checking it against the weights;
- the official state dict (``InvDN_ResUnit_x4.pth``, optionally ``module.``-prefixed) and Paddle
  ``.pdparams`` (``paddle.save`` or PaddleGAN's trainer layout), which record none: the
  architecture is read off the parameter names and shapes (``infer_architecture``), so no released
  file needs a flag.

Loading is safe: PyTorch files with ``torch.load(weights_only=True)``, ``.pdparams`` (a pickled
dict of numpy arrays) with an unpickler that admits numpy arrays and plain containers only, so a
crafted file cannot run code.

The official code (and its Paddle port) names parameters ``operations.<i>.haar_weights`` (the
fixed (4C, 1, 2, 2) Haar filters) and ``operations.<i>.{F,G,H}.conv<k>.{weight,bias}``, operations
numbered in order: Haar, its coupling blocks, next Haar, ...; ``InvDN`` uses the same names, so
importing is inferring, checking (missing, unexpected and mis-shaped keys are all listed in one
error) and loading.

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
import re
from pathlib import Path
from typing import Mapping, NamedTuple

import numpy as np
import torch

from ..checkpoint import MODEL_FORMAT, TRAINING_FORMAT, CheckpointError
from ..checkpoint import load as load_checkpoint
from .coupling import CouplingBlock
from .invdn import Architecture, InvDN
from .registry import SUBNETS, TRANSFORMS

# (module, name) pairs a .pdparams pickle may reference: numpy array reconstruction and dtypes
# (numpy 1 and 2 module paths), and ``_codecs.encode``, which protocol-2 pickles (PaddleGAN's
# ``ppgan.utils.filesystem.save``) use to store raw bytes; it converts text to bytes and calls
# nothing else. Dicts, lists, tuples and strings need no global at all.
_SAFE_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
    ("numpy", "ndarray"), ("numpy", "dtype"), ("collections", "OrderedDict"), ("_codecs", "encode"),
}

INFERABLE = ("channels", "down_blocks", "inv_blocks", "transform", "subnet")
"""Architecture fields read off a state dict; ``clamp`` is not stored anywhere (default 1.0, the
official value)."""

_OPERATION = re.compile(r"operations\.(\d+)\.(.+)")


class WeightsError(CheckpointError):
    """Weights that cannot be made into an InvDN; the message names the file and every problem."""


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


# ------------------------------------------------------------------------------ architecture inference
class Inference(NamedTuple):
    """An architecture read off a state dict, and for each field of ``INFERABLE`` the keys that show it."""

    arch: Architecture
    evidence: dict[str, str]


def _signatures() -> tuple[dict[str, frozenset[str]], dict[str, frozenset[str]]]:
    """What each registered component leaves in a state dict: {transform: its keys} and
    {subnet: the modules of a coupling block built with it} ({"F.conv1", ..., "H.conv3"} for resnet).

    Built from the registry on the meta device (no memory, and the global RNG is not drawn from),
    so a newly registered subnet or transform is recognised without a table to update."""
    with torch.device("meta"):
        transforms = {n: frozenset(TRANSFORMS.get(n)(1).state_dict()) for n in TRANSFORMS.names()}
        couplings = {
            n: frozenset(_module(k) for k in CouplingBlock(4, 1, SUBNETS.get(n)).state_dict()) for n in SUBNETS.names()
        }
    return transforms, couplings


def _module(key: str) -> str:
    return key.rpartition(".")[0]


def _natural(name: str) -> list:
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name)]


def _span(names) -> str:
    """conv1, conv2, conv3 -> "conv1..conv3"; one or two names are listed."""
    names = sorted(set(names), key=_natural)
    return f"{names[0]}..{names[-1]}" if len(names) > 2 else ", ".join(names)


def _ranges(indices: list[int]) -> str:
    """[1, 2, 3, 5] -> "1-3, 5"."""
    runs: list[list[int]] = []
    for i in indices:
        if runs and i == runs[-1][-1] + 1:
            runs[-1].append(i)
        else:
            runs.append([i])
    return ", ".join(str(r[0]) if len(r) == 1 else f"{r[0]}-{r[-1]}" for r in runs)


def _contents(keys) -> str:
    """What one operation holds: "haar_weights", "F(conv1..conv3) G(conv1..conv3) H(conv1..conv3)"."""
    if not keys:
        return "nothing"
    groups: dict[str, list[str]] = {}
    for k in keys:
        top, _, rest = k.partition(".")
        groups.setdefault(top, [])
        if rest:
            groups[top].append(rest.partition(".")[0])
    return " ".join(f"{top}({_span(sub)})" if sub else top for top, sub in sorted(groups.items()))


def _found(ops: dict[int, dict], stray: list[str]) -> str:
    """Operations grouped into runs of the same contents, then the keys outside ``operations``."""
    parts: list[tuple[list[int], str]] = []
    for i in range(max(ops) + 1 if ops else 0):
        what = _contents(ops.get(i, {}))
        if parts and parts[-1][1] == what and parts[-1][0][-1] == i - 1:
            parts[-1][0].append(i)
        else:
            parts.append(([i], what))
    text = [f"operation{'s' if len(ix) > 1 else ''} {_ranges(ix)}: {what}" for ix, what in parts[:8]]
    if len(parts) > 8:
        text.append(f"... ({len(parts) - 8} more runs, up to operation {max(ops)})")
    if stray:
        text.append(f"other keys ({len(stray)}): " + ", ".join(stray[:5]) + (" ..." if len(stray) > 5 else ""))
    return "; ".join(text) or "no tensors"


def _expected_layout() -> str:
    transforms, couplings = _signatures()
    steps = ", ".join(f"{n}: {_contents(sig)}" for n, sig in sorted(transforms.items()))
    blocks = ", ".join(f"{n}: {_contents(sig)}" for n, sig in sorted(couplings.items()))
    return (f"expected operations 0, 1, ... each a down-scaling step ({steps}) or a coupling block ({blocks}), "
            "starting with a step and at least one block after each")


def infer_architecture(state: Mapping[str, torch.Tensor], source: str = "state dict", clamp: float = 1.0) -> Inference:
    """The InvDN architecture of an official-named state dict (``module.`` prefixes already removed).

    What is read, and from where:

    - operation kinds: ``operations.<i>`` holding exactly a registered transform's keys is a
      down-scaling step (``haar_weights``: Haar; no keys at all, i.e. a number missing from the
      sequence: squeeze, the only transform without parameters); one holding the conv modules of
      ``F``, ``G`` and ``H`` of a registered subnet is a coupling block of that subnet (resnet:
      conv1..conv3, the official ``ResBlock``; densenet: conv1..conv5, ``DenseBlock``). Single
      tensors may be missing or mis-shaped: ``load_into`` lists them afterwards;
    - ``down_blocks``: the number of steps; ``inv_blocks``: the blocks after each (an int when all
      are equal, else one per scale); ``transform``, ``subnet``: the one kind seen;
    - ``channels``: ``operations.0.haar_weights`` is (4C, 1, 2, 2); without Haar, the first coupling
      block's ``G.conv1.weight`` is (features, C, 3, 3), since G reads the C channels of ``lr``.

    Not inferable: ``clamp`` (taken from the argument). A squeeze step followed by no coupling block
    would leave no trace; the configuration schema requires at least one block per scale, and such
    a layout is refused here rather than guessed.

    Raises:
        WeightsError: the layout is not recognised; the message lists what was found and what is expected.
    """
    ops: dict[int, dict[str, torch.Tensor]] = {}
    stray: list[str] = []
    for key, value in state.items():
        m = _OPERATION.fullmatch(key)
        if m:
            ops.setdefault(int(m[1]), {})[m[2]] = value
        else:
            stray.append(key)
    transforms, couplings = _signatures()
    kinds: list[tuple[str, str]] = []  # per operation: ("transform" | "coupling", component name)
    problems = [f"{len(stray)} key(s) outside operations.<i>"] if stray else []
    for i in range(max(ops) + 1 if ops else 0):
        keys = frozenset(ops.get(i, {}))
        steps = [n for n, sig in transforms.items() if sig == keys]
        blocks = [n for n, sig in couplings.items() if keys and sig == frozenset(map(_module, keys))]
        if len(steps) + len(blocks) == 1:
            kinds.append(("transform", steps[0]) if steps else ("coupling", blocks[0]))
        else:
            problems.append(f"operation {i} is neither a step nor a coupling block")
    if not ops:
        problems.append("no operations.<i> keys")
    elif not problems:
        problems = _sequence_problems(kinds)
    if problems:
        more = f"; {len(problems) - 3} more" if len(problems) > 3 else ""
        raise WeightsError(
            f"{source}: not a recognisable InvDN state dict ({'; '.join(problems[:3])}{more}); "
            f"found {_found(ops, stray)}; {_expected_layout()}"
        )
    steps = [i for i, (kind, _) in enumerate(kinds) if kind == "transform"]
    blocks = [i for i, (kind, _) in enumerate(kinds) if kind == "coupling"]
    per_scale = tuple(b - a - 1 for a, b in zip(steps, [*steps[1:], len(kinds)]))
    transform, subnet = kinds[0][1], kinds[blocks[0]][1]
    if "haar_weights" in ops.get(0, {}):
        channels_key, channels_tensor = "operations.0.haar_weights", ops[0]["haar_weights"]
        channels = channels_tensor.shape[0] // 4
    else:
        channels_key = f"operations.{blocks[0]}.G.conv1.weight"
        channels_tensor = ops[blocks[0]].get("G.conv1.weight")
        if channels_tensor is None or channels_tensor.dim() != 4:
            raise WeightsError(f"{source}: cannot tell the channel count: {channels_key} is missing; found {_found(ops, stray)}")
        channels = channels_tensor.shape[1]
    step_keys = sorted(transforms[transform])
    arch = Architecture(
        channels=channels, down_blocks=len(steps), inv_blocks=per_scale[0] if len(set(per_scale)) == 1 else per_scale,
        transform=transform, subnet=subnet, clamp=clamp,
    )
    evidence = {
        "channels": f"{channels_key} {tuple(channels_tensor.shape)}",
        "down_blocks": f"steps at operations {_ranges(steps)}",
        "inv_blocks": f"coupling blocks at operations {_ranges(blocks)}",
        "transform": (f"operations.{steps[0]}.{step_keys[0]}" if step_keys
                      else f"operations {_ranges(steps)} hold no parameters"),
        "subnet": f"operations.{blocks[0]}.F.{_span(k.split('.')[1] for k in ops[blocks[0]] if k.startswith('F.'))}",
    }
    return Inference(arch, evidence)


def _sequence_problems(kinds: list[tuple[str, str]]) -> list[str]:
    """What is wrong with a sequence of recognised operations, if anything."""
    problems = []
    if kinds[0][0] != "transform":
        problems.append("operation 0 is a coupling block, not a down-scaling step")
    for kind in ("transform", "coupling"):
        used: dict[str, list[int]] = {}
        for i, (k, name) in enumerate(kinds):
            if k == kind:
                used.setdefault(name, []).append(i)
        if len(used) > 1:  # e.g. Haar steps and a number missing from the sequence (a lost block)
            label = "down-scaling steps" if kind == "transform" else "coupling blocks"
            problems.append(f"{label} of different kinds: " + ", ".join(f"{n} at {_ranges(ix)}" for n, ix in used.items()))
        if kind == "coupling" and not used:
            problems.append("no coupling blocks")
    empty = [i for i, (k, _) in enumerate(kinds) if k == "transform" and (i + 1 == len(kinds) or kinds[i + 1][0] == "transform")]
    if empty:
        problems.append(f"no coupling block after the step at operation {_ranges(empty)}")
    return problems


def _per_scale(inv_blocks, down_blocks: int) -> tuple[int, ...]:
    return (inv_blocks,) * down_blocks if isinstance(inv_blocks, int) else tuple(int(b) for b in inv_blocks)


def _show(value) -> str:
    return str(list(value)) if isinstance(value, (list, tuple)) else str(value)


def disagreements(found: Architecture, given: Mapping[str, object]) -> list[tuple[str, object, object]]:
    """(field, value in ``found``, value in ``given``) for each inferable field where they differ;
    ``inv_blocks`` compares per scale (8 equals [8, 8] at 2 down-scale blocks)."""
    out = []
    for field in INFERABLE:
        if field not in given:
            continue
        mine, theirs = getattr(found, field), given[field]
        if field == "inv_blocks":
            down = int(given.get("down_blocks", found.down_blocks))
            same = _per_scale(mine, found.down_blocks) == _per_scale(theirs, down)
        else:
            same = mine == theirs
        if not same:
            out.append((field, mine, theirs))
    return out


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
        clean = invdn.ensembles.denoise(model, noisy, [invdn.ensembles.image_generator(0, "img")], 16)

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

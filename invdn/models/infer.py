"""Which InvDN a state dict holds, read off its parameter names and shapes (``infer_architecture``).

Files that record no architecture (the official ``InvDN_ResUnit_x4.pth``, Paddle ``.pdparams``)
are loaded with the architecture inferred here, so no released file needs a flag; this project's
own files are checked against it (``invdn.models.weights``).

The official code (and its Paddle port) names parameters ``operations.<i>.haar_weights`` (the
fixed (4C, 1, 2, 2) Haar filters) and ``operations.<i>.{F,G,H}.conv<k>.{weight,bias}``, operations
numbered in order: Haar, its coupling blocks, next Haar, ...; ``InvDN`` uses the same names. What
each registered transform and subnet leaves in a state dict is read off the registry itself
(``_signatures``), so a new component is recognised without a table to update.
"""
from __future__ import annotations

import re
from typing import Mapping, NamedTuple

import torch

from invdn.engine.checkpoint import CheckpointError
from invdn.models.coupling import CouplingBlock
from invdn.models.invdn import Architecture
from invdn.models.registry import SUBNETS, TRANSFORMS

INFERABLE = ("channels", "down_blocks", "inv_blocks", "transform", "subnet")
"""Architecture fields read off a state dict; ``clamp`` is not stored anywhere (default 1.0, the
official value)."""

_OPERATION = re.compile(r"operations\.(\d+)\.(.+)")


class WeightsError(CheckpointError):
    """Weights that cannot be made into an InvDN; the message names the file and every problem.

    Raised here for a layout that is no InvDN, and by ``invdn.models.weights`` for files and weights
    that do not fit; a kind of ``CheckpointError``, so that catches every error of ``load_model``."""


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
    ops, stray = _operations(state)
    transforms, couplings = _signatures()
    kinds, unknown = _kinds(ops, transforms, couplings)
    problems = ([f"{len(stray)} key(s) outside operations.<i>"] if stray else []) + unknown
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
    channels, channels_key, channels_tensor = _channels(ops, blocks[0], source, stray)
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


def _operations(state: Mapping[str, torch.Tensor]) -> tuple[dict[int, dict[str, torch.Tensor]], list[str]]:
    """The tensors of each ``operations.<i>`` ({i: {key within the operation: tensor}}), and the other keys."""
    ops: dict[int, dict[str, torch.Tensor]] = {}
    stray: list[str] = []
    for key, value in state.items():
        m = _OPERATION.fullmatch(key)
        if m:
            ops.setdefault(int(m[1]), {})[m[2]] = value
        else:
            stray.append(key)
    return ops, stray


def _kinds(ops: dict[int, dict], transforms: dict[str, frozenset[str]],
           couplings: dict[str, frozenset[str]]) -> tuple[list[tuple[str, str]], list[str]]:
    """Per operation 0, 1, ...: ("transform" | "coupling", component name) when its keys are exactly
    one registered component's (``_signatures``); and a problem for each operation that is not."""
    kinds: list[tuple[str, str]] = []
    problems: list[str] = []
    for i in range(max(ops) + 1 if ops else 0):
        keys = frozenset(ops.get(i, {}))
        steps = [n for n, sig in transforms.items() if sig == keys]
        blocks = [n for n, sig in couplings.items() if keys and sig == frozenset(map(_module, keys))]
        if len(steps) + len(blocks) == 1:
            kinds.append(("transform", steps[0]) if steps else ("coupling", blocks[0]))
        else:
            problems.append(f"operation {i} is neither a step nor a coupling block")
    return kinds, problems


def _channels(ops: dict[int, dict], first_block: int, source: str, stray: list[str]) -> tuple[int, str, torch.Tensor]:
    """The channel count C, and the key and tensor that tell it: the Haar filters (4C, 1, 2, 2) when
    the first step has them, else the first coupling block's ``G.conv1.weight`` (features, C, 3, 3)."""
    if "haar_weights" in ops.get(0, {}):
        channels_tensor = ops[0]["haar_weights"]
        return channels_tensor.shape[0] // 4, "operations.0.haar_weights", channels_tensor
    channels_key = f"operations.{first_block}.G.conv1.weight"
    channels_tensor = ops[first_block].get("G.conv1.weight")
    if channels_tensor is None or channels_tensor.dim() != 4:
        raise WeightsError(f"{source}: cannot tell the channel count: {channels_key} is missing; found {_found(ops, stray)}")
    return channels_tensor.shape[1], channels_key, channels_tensor


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

"""Checkpoints: written atomically, read with ``torch.load(weights_only=True)`` (no pickled code).

Two kinds, both dicts with ``format``:
- a training checkpoint (``checkpoints/<hash>/step<N>.pt``, the newest few kept): model, optimizer, scheduler, step, the
  run's config and the torch RNG state: enough to continue the same trajectory;
- a model file (``model.pt``): architecture, weights and where they came from.

Both are turned back into a model by ``invdn.models.load_model``, the one loader of InvDN weights
(it also reads the official and Paddle files); this module only writes and reads the files.
"""
from __future__ import annotations

import pickle
from pathlib import Path

import torch

from invdn.atomic import write_atomic

TRAINING_FORMAT = "invdn-repro/training-checkpoint/1"
MODEL_FORMAT = "invdn-repro/model/1"


class CheckpointError(ValueError):
    """A checkpoint that cannot be used: the message names the file and the reason.

    ``invdn.models.weights.WeightsError`` (weights that do not make an InvDN) is a kind of it, so
    ``except CheckpointError`` catches every error of ``invdn.models.load_model``."""


def save(path: str | Path, state: dict) -> None:
    """torch.save to a temporary file in the same folder, then rename: never a half-written file.

    Raises:
        OSError: the file cannot be written (a full disk, an unwritable folder); the message names
            ``path`` (see :func:`invdn.atomic.write_atomic`) and an earlier file there is unchanged.
    """

    def write(tmp: str) -> None:
        # Through a Python file object: given a file name, torch's own writer reports a full disk
        # as an obscure RuntimeError ("[enforce fail ...] unexpected pos"), a file object as
        # OSError(ENOSPC), which write_atomic names.
        with open(tmp, "wb") as f:
            torch.save(state, f)

    write_atomic(path, write)


def load(path: str | Path, expected_format: str | None = None, map_location="cpu") -> dict:
    """Load a checkpoint dict safely.

    Raises:
        CheckpointError: missing, unreadable or truncated file, or not of ``expected_format``.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint not found")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # torch raises RuntimeError, pickle errors, EOFError, KeyError, ...
        if isinstance(e, pickle.UnpicklingError) and "Weights only load failed" in str(e):
            raise CheckpointError(  # the pickle would build (or run) something other than tensors
                f"{path}: refused: the file would build objects other than tensors and plain containers "
                f"({_first_line(e)})"
            ) from None
        raise CheckpointError(
            f"{path}: not a readable checkpoint ({type(e).__name__}: {_first_line(e)}); it may be truncated, "
            "or not a PyTorch file"
        ) from None
    fmt = state.get("format") if isinstance(state, dict) else None
    if expected_format is not None and fmt != expected_format:
        raise CheckpointError(f"{path}: expected a checkpoint of format {expected_format!r}, found {fmt!r}")
    return state


def _first_line(e: Exception) -> str:
    """The part of a torch.load error that says what went wrong, on one line.

    torch's weights_only refusal opens with advice to load the file with weights_only=False (which
    runs whatever code the pickle holds) and ends with a documentation link; neither is passed on.
    Of the rest, the first sentence: the miniz error of a truncated file runs on for several."""
    lines = [line.strip() for line in str(e).splitlines() if line.strip() and "weights_only" not in line]
    text = lines[0] if lines else type(e).__name__
    return text.split(". ")[0].rstrip(".")


def model_state(model: torch.nn.Module, arch: dict | None = None, **metadata) -> dict:
    """The contents of a model file: format, architecture (default: InvDN's ``model.arch``),
    weights and ``metadata``."""
    arch = model.arch.to_dict() if arch is None else arch
    return {"format": MODEL_FORMAT, "arch": arch, "model": model.state_dict(), **metadata}

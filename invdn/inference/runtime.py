"""Process and device settings: the torch device (``resolve_device``, ``is_cuda``), CPU threads
(``set_threads``), and the C allocator's reuse of freed memory, which makes CPU runs fast.

PyTorch allocates every CPU tensor with the C library's ``malloc``. glibc hands blocks above a
threshold (128 KiB at first, moving with use) straight to the kernel and back on ``free``, and trims
the heap whenever more than twice that is free at its top; so every 4 MiB activation of a 256x256
denoise is mapped anew and its pages are faulted in and zeroed before the convolution writes them.
On the project's 2-core machine that cost a single denoise 1.4x its time (64->64 convolutions: 8.5 ms
each inside the model, 5.9 ms in a loop; ``benchmarks/suite.py`` measures both settings).

``tune_allocator`` serves every block from the heap (no mmap) and stops trimming it, so freed
activations of any size are reused without page faults. Raising only the mmap threshold is not
enough: glibc caps it at 32 MiB, and a batch-28 training step at 144x144 has 150 MiB activations
(per-sample time of batch 28 over batch 4: 1.07-1.10 with the cap, 0.86-0.95 without mmap; a
batch-14 training step's peak resident set 3.2 GiB with glibc's defaults, 3.4 GiB tuned). The cost:
the process keeps the memory it once used until it exits.
The ``invdn`` command line calls it at start, and ``invdn.inference.modes.reverse_samples`` (so every
CPU denoise of the library: ``denoise``, ``run_mode``, noise generation) before its first pass, so a
library user gets it without a call; set ``INVDN_MALLOC=default`` to leave glibc as it is.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os

import torch

M_TRIM_THRESHOLD, M_MMAP_MAX = -1, -4  # mallopt parameters, <malloc.h>
TRIM_THRESHOLD = 1 << 30  # bytes of free heap top kept before any is returned to the kernel


def tune_allocator() -> bool:
    """Turn off glibc's mmap of large blocks and its heap trimming (see the module docstring).

    Returns True when the settings took effect, False where they cannot (not glibc, e.g. macOS or
    musl, or ``INVDN_MALLOC=default`` in the environment). Safe to call more than once.
    """
    global _TUNED
    if os.environ.get("INVDN_MALLOC", "").lower() == "default":
        return False
    if _TUNED is not None:
        return _TUNED
    _TUNED = _mallopt()
    return _TUNED


_TUNED: bool | None = None  # the outcome of the first tuning in this process


def _mallopt() -> bool:
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError, TypeError):
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    return bool(mallopt(M_MMAP_MAX, 0)) and bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))


def resolve_device(name: str | torch.device) -> torch.device:
    """torch.device(name), with a clear error when CUDA is asked for but absent.

    Raises:
        ValueError: ``name`` is not a torch device, or names CUDA on a machine without it.
    """
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError) as e:
        raise ValueError(f"device {name!r}: not a torch device ({e}); expected cpu, cuda or cuda:N") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {name!r} requested but CUDA is not available on this machine; use cpu")
    return device


def is_cuda(device: str | torch.device) -> bool:
    """Whether ``device`` (a name or a torch.device) is a CUDA device."""
    return torch.device(device).type == "cuda"


def set_threads(threads: int | None) -> None:
    """Use ``threads`` CPU threads for torch's operations (None or 0: torch's own choice).

    Raises:
        ValueError: ``threads`` is negative.
    """
    if threads is None or threads == 0:
        return
    if threads < 0:
        raise ValueError(f"threads must be a positive integer, got {threads}")
    torch.set_num_threads(threads)

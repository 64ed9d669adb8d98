"""Process settings that make CPU runs fast: the C allocator's reuse of freed memory.

PyTorch allocates every CPU tensor with the C library's ``malloc``. glibc hands blocks above a
threshold (128 KiB at first, moving with use) straight to the kernel and back on ``free``, and trims
the heap whenever more than twice that is free at its top; so every 4 MiB activation of a 256x256
denoise is mapped anew and its pages are faulted in and zeroed before the convolution writes them.
On the project's 2-core machine that cost a single denoise 1.4x its time (64->64 convolutions: 8.5 ms
each inside the model, 5.9 ms in a loop; ``benchmarks/suite.py`` measures both settings).

``tune_allocator`` keeps blocks of up to 32 MiB (glibc's maximum for this setting) in the heap and
stops trimming it, so freed activations are reused without page faults. The cost is that the
process keeps the memory it once used (its peak) until it exits; the peak itself does not grow.
The ``invdn`` command line calls it at start; set ``INVDN_MALLOC=default`` to leave glibc as it is.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # mallopt parameters, <malloc.h>
MMAP_THRESHOLD = 32 << 20  # bytes; glibc refuses more (HEAP_MAX_SIZE / 2 on 64-bit)
TRIM_THRESHOLD = 1 << 30   # bytes of free heap top kept before any is returned to the kernel


def tune_allocator() -> bool:
    """Set glibc's mmap and trim thresholds for tensor reuse (see the module docstring).

    Returns True when the settings took effect, False where they cannot (not glibc, e.g. macOS or
    musl, or ``INVDN_MALLOC=default`` in the environment). Safe to call more than once.
    """
    if os.environ.get("INVDN_MALLOC", "").lower() == "default":
        return False
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError, TypeError):
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))

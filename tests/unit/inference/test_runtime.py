"""invdn.inference.runtime.tune_allocator: takes effect on glibc, and the opt-out is honoured."""
import ctypes.util
import platform

import pytest

from invdn.inference.runtime import tune_allocator


def test_opt_out_leaves_the_allocator_alone(monkeypatch):
    monkeypatch.setenv("INVDN_MALLOC", "default")
    assert tune_allocator() is False


@pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc", reason="glibc only")
def test_tuning_takes_effect_on_glibc_and_can_be_repeated(monkeypatch):
    monkeypatch.delenv("INVDN_MALLOC", raising=False)
    assert ctypes.util.find_library("c")
    assert tune_allocator() is True and tune_allocator() is True


def test_tuning_is_done_once_per_process(monkeypatch):
    """The library calls tune_allocator before every CPU denoise: only the first call reaches mallopt."""
    from invdn.inference import runtime

    monkeypatch.delenv("INVDN_MALLOC", raising=False)
    monkeypatch.setattr(runtime, "_TUNED", None)
    calls = []
    monkeypatch.setattr(runtime, "_mallopt", lambda: calls.append(1) or True)
    assert runtime.tune_allocator() is True and runtime.tune_allocator() is True
    assert calls == [1]
    monkeypatch.setenv("INVDN_MALLOC", "default")
    assert runtime.tune_allocator() is False

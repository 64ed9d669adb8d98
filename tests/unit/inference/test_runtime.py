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

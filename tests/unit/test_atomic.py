"""Atomic writes leave the old file or the new one, never a partial one, with normal permissions."""
import os

import pytest

from invdn.atomic import write_atomic, write_text_atomic


def test_write_replaces_and_uses_umask_permissions(tmp_path):
    path = tmp_path / "sub" / "a.json"
    write_text_atomic(path, "one")
    write_text_atomic(path, "two")
    assert path.read_text() == "two"
    mask = os.umask(0)
    os.umask(mask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~mask
    assert [p.name for p in path.parent.iterdir()] == ["a.json"]


def test_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "a.txt"
    write_text_atomic(path, "old")

    def broken(tmp):
        with open(tmp, "w") as f:
            f.write("half")
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space left"):
        write_atomic(path, broken)
    assert path.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["a.txt"]


def test_a_full_disk_hidden_behind_a_library_error_is_reported_as_one(tmp_path):
    """torch.save meets ENOSPC, then its zip writer's cleanup raises RuntimeError("... unexpected pos")."""
    import errno

    import pytest

    from invdn.atomic import write_atomic

    def write(tmp):
        try:
            raise OSError(errno.ENOSPC, "No space left on device")
        except OSError:
            raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 3357824 vs 3357772")

    with pytest.raises(OSError) as err:
        write_atomic(tmp_path / "step00000004.pt", write)
    assert err.value.errno == errno.ENOSPC and str(tmp_path / "step00000004.pt") in str(err.value)
    assert "disk may be full" in str(err.value) and list(tmp_path.iterdir()) == []


def test_a_real_full_disk_while_saving_a_checkpoint_names_the_file(tmp_path):
    """On a 1 MB tmpfs (root only): the real torch.save, not a stand-in."""
    import errno
    import os
    import subprocess

    import pytest
    import torch

    from invdn.engine import checkpoint

    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(tmp_path)],
                                           capture_output=True).returncode != 0:
        pytest.skip("needs root to mount a 1 MB tmpfs")
    try:
        with pytest.raises(OSError) as err:
            checkpoint.save(tmp_path / "step00000001.pt", {"w": torch.zeros(1 << 19)})  # 2 MB
        assert err.value.errno == errno.ENOSPC and "step00000001.pt" in str(err.value)
        assert list(tmp_path.iterdir()) == []
    finally:
        subprocess.run(["umount", "-l", str(tmp_path)], capture_output=True)

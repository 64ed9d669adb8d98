"""One training per run folder: a second one fails at once and names the first."""
import errno
import subprocess
import sys
import textwrap

import pytest

from invdn.engine import run_lock


def test_second_training_on_a_folder_is_refused_while_the_first_lives(tmp_path):
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import sys, time
        from pathlib import Path
        from invdn.engine import run_lock
        with run_lock.exclusive(Path({str(tmp_path)!r})):
            print("held", flush=True)
            time.sleep(30)
        """)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(OSError) as err:
            with run_lock.exclusive(tmp_path):
                pass
        assert err.value.errno == errno.EBUSY
        assert f"process {holder.pid}" in str(err.value) and str(tmp_path) in str(err.value)
    finally:
        holder.kill()
        holder.wait()
    with run_lock.exclusive(tmp_path):  # a killed holder's lock goes with its process
        pass

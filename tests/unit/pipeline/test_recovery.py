"""Stale Snakemake locks: removed when the invocation that took them is gone, kept while it lives."""
import json
import socket
import subprocess
import sys

from invdn.pipeline import recovery


def _lock(work):
    locks = work / recovery.LOCKS
    locks.mkdir(parents=True, exist_ok=True)
    (locks / "0.input.lock").write_text("a\n")
    (locks / "0.output.lock").write_text("b\n")


def _owner(work, pid, host=None, start_time=None):
    path = work / recovery.OWNERS / f"{host or socket.gethostname()}-{pid}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"host": host or socket.gethostname(), "pid": pid, "start_time": start_time,
                                "started": "then"}))
    return path


def _dead_pid():
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_locks_of_a_killed_invocation_are_removed(tmp_path):
    _lock(tmp_path)
    record = _owner(tmp_path, _dead_pid())
    lines = recovery.clear_stale_locks(tmp_path)
    assert not (tmp_path / recovery.LOCKS).exists()
    assert not record.exists()
    assert len(lines) == 1 and "removed the Snakemake lock" in lines[0]


def test_locks_of_a_live_invocation_are_kept_and_named(tmp_path):
    _lock(tmp_path)
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        from invdn.pipeline.recovery import _start_time

        _owner(tmp_path, proc.pid, start_time=_start_time(proc.pid))
        _owner(tmp_path, _dead_pid())
        lines = recovery.clear_stale_locks(tmp_path)
    finally:
        proc.kill()
        proc.wait()
    assert sorted(p.name for p in (tmp_path / recovery.LOCKS).iterdir()) == ["0.input.lock", "0.output.lock"]
    assert len(lines) == 1 and f"snakemake process {proc.pid}" in lines[0] and "holds this folder's" in lines[0]
    assert len(list((tmp_path / recovery.OWNERS).glob("*.json"))) == 1  # the dead record went


def test_a_reused_pid_does_not_keep_a_stale_lock(tmp_path):
    """The record's pid now belongs to another process (this one): its start time tells them apart."""
    import os

    _lock(tmp_path)
    _owner(tmp_path, os.getpid(), start_time="1")
    recovery.clear_stale_locks(tmp_path)
    assert not (tmp_path / recovery.LOCKS).exists()


def test_locks_of_another_host_or_without_records_are_left_to_snakemake(tmp_path):
    _lock(tmp_path)
    assert recovery.clear_stale_locks(tmp_path) == []  # no record: not ours to judge
    assert (tmp_path / recovery.LOCKS).is_dir()
    _owner(tmp_path, _dead_pid(), host="another-node")
    lines = recovery.clear_stale_locks(tmp_path)
    assert (tmp_path / recovery.LOCKS).is_dir() and "on another-node" in lines[0]


def test_claim_leaves_a_record_of_this_process(tmp_path):
    path = recovery.claim(tmp_path)
    rec = json.loads(path.read_text())
    assert rec["host"] == socket.gethostname() and rec["pid"] == __import__("os").getpid()
    assert recovery.Owner(rec["host"], rec["pid"], rec["start_time"], rec["started"], path).alive_here(rec["host"])
    path.unlink()


def test_dag_start_fails_the_runs_of_gone_processes_and_keeps_live_ones(tmp_path):
    import os

    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{tmp_path}/mlflow.db"
    client = MlflowClient(tracking_uri=uri)
    exp = client.create_experiment("e", artifact_location=(tmp_path / "art").as_uri())
    gone = client.create_run(exp, tags={"pid": str(_dead_pid()), "host": socket.gethostname(),
                                        "mlflow.runName": "evaluate/tiny/single"}).info.run_id
    live = client.create_run(exp, tags={"pid": str(os.getpid()), "host": socket.gethostname()}).info.run_id
    lines = recovery.on_dag_start(uri)
    assert client.get_run(gone).info.status == "FAILED" and client.get_run(live).info.status == "RUNNING"
    assert len(lines) == 1 and "1 MLflow run(s) of killed jobs" in lines[0] and "evaluate/tiny/single" in lines[0]
    assert recovery.on_dag_start(f"sqlite:///{tmp_path}/new/mlflow.db") == []  # no store yet: nothing to do
    assert not (tmp_path / "new").exists()

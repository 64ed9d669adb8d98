"""16 processes logging at once lose no run, param or metric: the embedded sqlite store (what
parallel Snakemake jobs share) and an MLflow tracking server bound to 127.0.0.1 (clusters)."""
import socket
import subprocess
import sys
import time
import urllib.request

import pytest
from mlflow.tracking import MlflowClient

from invdn.tracking import init_store

pytestmark = pytest.mark.slow

WRITERS, PARAMS, STEPS = 16, 20, 10
WORKER = r"""
import sys
from invdn.tracking import MlflowLogger, tracked_run
uri, k, params, steps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
with tracked_run(uri, "parallel", f"writer{k}", {"p": {str(i): i * k for i in range(params)}}, {"writer": str(k)}):
    log = MlflowLogger()
    for step in range(steps):
        log.log_metrics({"a": step * k, "b": step}, step=step)
"""


def _write_concurrently(uri: str) -> None:
    procs = [subprocess.Popen([sys.executable, "-c", WORKER, uri, str(k), str(PARAMS), str(STEPS)],
                              stderr=subprocess.PIPE, text=True) for k in range(WRITERS)]
    failures = [(k, p.stderr.read()[-2000:]) for k, p in enumerate(procs) if p.wait() != 0]
    assert not failures, failures


def _count(uri: str) -> None:
    client = MlflowClient(tracking_uri=uri)
    runs = client.search_runs([client.get_experiment_by_name("parallel").experiment_id], max_results=1000)
    assert len(runs) == WRITERS and {r.info.status for r in runs} == {"FINISHED"}
    assert sorted(int(r.data.tags["writer"]) for r in runs) == list(range(WRITERS))
    for r in runs:
        k = int(r.data.tags["writer"])
        assert r.data.params == {f"p.{i}": str(i * k) for i in range(PARAMS)}
        history = client.get_metric_history(r.info.run_id, "a")
        assert sorted((m.step, m.value) for m in history) == [(s, float(s * k)) for s in range(STEPS)]
        assert len(client.get_metric_history(r.info.run_id, "b")) == STEPS


def test_sixteen_writers_to_the_embedded_store(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # artifacts under tmp_path/results/mlartifacts
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    init_store(uri, ["parallel"])  # as the DAG's mlflow_init job does before parallel jobs start
    _write_concurrently(uri)
    _count(uri)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_sixteen_writers_to_a_tracking_server(tmp_path):
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
         "--backend-store-uri", f"sqlite:///{tmp_path}/server.db", "--default-artifact-root", str(tmp_path / "art")],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    uri = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(f"{uri}/health", timeout=2)
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"mlflow server did not start: {server.stderr.read()[-2000:]}")
                time.sleep(0.5)
        _write_concurrently(uri)
        _count(uri)
    finally:
        server.terminate()
        server.wait(timeout=30)

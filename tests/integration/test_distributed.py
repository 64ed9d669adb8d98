"""Training on 2 processes (torchrun, gloo on CPU) follows the run of 1 process with their joint batch."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch
from click.testing import CliRunner
from mlflow.tracking import MlflowClient

from invdn.engine import checkpoint
from invdn.cli import main
from invdn.config import ConfigError, run_config
from invdn.data import SampleRange
from invdn.engine.distributed import Group, RankSamples
from invdn.engine.trainer import train

from helpers import REPO, tiny_run_config
from helpers import RecordingLogger, nan_at_call

pytestmark = pytest.mark.skipif(
    not (torch.distributed.is_available() and torch.distributed.is_gloo_available()),
    reason="this torch build has no torch.distributed with the gloo backend",
)

# Rank 1 alone gets a NaN loss at its 4th loss evaluation (step 4); what train() returns is printed as JSON.
NAN_ON_RANK_1 = """
import json, os, sys
import torch.distributed as dist
from invdn.config import run_config
from invdn.losses import Objective
from invdn.engine.trainer import train

calls, original = {"n": 0}, Objective.__call__

def nan_on_rank_1(self, *args, **kwargs):
    out = original(self, *args, **kwargs)
    calls["n"] += 1
    if calls["n"] == 4 and dist.get_rank() == 1:
        out["total"] = out["total"] * float("nan")
    return out

Objective.__call__ = nan_on_rank_1
result = train(run_config(json.loads(sys.argv[1])), sys.argv[2], progress=False)
rank = int(os.environ["RANK"])  # one file per rank: two prints to one stdout can interleave
with open(f"report{rank}.json", "w") as f:
    json.dump({"rank": rank, "step": result.step, "calls": calls["n"]}, f)
"""


def torchrun(args: list[str], cwd) -> subprocess.CompletedProcess:
    """``torchrun --standalone --nproc_per_node 2 ARGS`` with one CPU thread per process."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join([str(REPO), str(REPO / "tests")])}
    env.pop("MLFLOW_TRACKING_URI", None)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", *args]
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=240)


def weights(path) -> dict[str, torch.Tensor]:
    return checkpoint.load(path)["model"]


def test_each_rank_takes_its_slice_of_the_single_process_batches():
    single = list(SampleRange(3 * 4, 6 * 4))  # steps 3-5 of one process with batch 4
    ranks = [list(RankSamples(3, 6, 2, rank, 2)) for rank in (0, 1)]
    joint = [k for s in range(3) for r in (0, 1) for k in ranks[r][2 * s : 2 * s + 2]]
    assert joint == single
    assert list(RankSamples(3, 6, 4)) == single and len(RankSamples(3, 6, 2, 1, 2)) == 6


def test_each_rank_draws_its_rows_of_the_single_process_draw():
    def draws(group: Group, batch: int):
        gen = torch.Generator().manual_seed(7)
        with group.rank_rows(gen, batch):
            return torch.randn(torch.Size([batch, 3, 2, 2]), generator=gen), torch.rand(batch, 5, generator=gen)

    whole = draws(Group(), 4)
    for rank in (0, 1):
        part = draws(Group(rank=rank, world=2), 2)
        for a, b in zip(part, whole):
            assert torch.equal(a, b[2 * rank : 2 * rank + 2])
    gen = torch.Generator()
    with pytest.raises(NotImplementedError, match="randint"), Group(rank=0, world=2).rank_rows(gen, 2):
        torch.randint(0, 5, (2,), generator=gen)
    with pytest.raises(ValueError, match="first dimension must be the batch"), Group(rank=0, world=2).rank_rows(gen, 2):
        torch.randn(5, 2, generator=gen)


def test_trajectory_hash_sees_the_batch_of_a_step(tiny_data):
    def traj(**train):
        return run_config(tiny_run_config(tiny_data, **train)).trajectory_hash()

    assert traj(processes=2, batch_size=2) == traj(processes=1, batch_size=4) != traj(processes=2, batch_size=4)


def test_a_launch_that_does_not_match_train_processes_is_refused(tiny_data, tmp_path, monkeypatch):
    cfg = run_config(tiny_run_config(tiny_data, processes=2))
    with pytest.raises(ConfigError, match=r"train.processes is 2 but this process was not started by torchrun.*"
                                          r"torchrun --standalone --nproc_per_node 2 -m invdn.cli train"):
        train(cfg, tmp_path / "run", progress=False)
    for key, value in {"WORLD_SIZE": "3", "RANK": "0", "LOCAL_RANK": "0"}.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(ConfigError, match=r"torchrun started 3 process\(es\) \(WORLD_SIZE=3\) but train.processes is 2"):
        train(cfg, tmp_path / "run", progress=False)
    # the command line refuses it before it opens an MLflow run
    monkeypatch.chdir(tmp_path)
    r = CliRunner().invoke(main, ["train", "--config-json", json.dumps(tiny_run_config(tiny_data, processes=2)),
                                  "--out-dir", "run", "--tracking-uri", f"sqlite:///{tmp_path}/mlflow.db"])
    assert r.exit_code == 1 and "train.processes is 2" in r.output, r.output
    assert not (tmp_path / "mlflow.db").exists() and not (tmp_path / "run").exists()


def test_two_processes_train_the_weights_of_one_process_with_their_joint_batch(tiny_data, tmp_path):
    raw = tiny_run_config(tiny_data, iterations=3, batch_size=2, processes=2, val_every=0)
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    proc = torchrun(["-m", "invdn.cli", "train", "--config-json", json.dumps(raw), "--out-dir", str(tmp_path / "two"),
                     "--tracking-uri", uri, "--experiment", "ddp", "--no-progress"], cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]

    logger = RecordingLogger()
    one = train(run_config(tiny_run_config(tiny_data, iterations=3, batch_size=4, val_every=0)), tmp_path / "one",
                progress=False, logger=logger)
    a, b = weights(tmp_path / "two" / "model.pt"), weights(one.model_path)
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=1e-4, atol=1e-5, msg=k)
    # not so by accident: rank 0's half of the batch alone trains other weights
    half = train(run_config(tiny_run_config(tiny_data, iterations=3, batch_size=2, val_every=0)), tmp_path / "half",
                 progress=False)
    assert max((a[k] - weights(half.model_path)[k]).abs().max().item() for k in a) > 1e-4

    # one model file, one checkpoint folder (the same trajectory hash as batch 4), one MLflow run
    assert sorted(p.name for p in (tmp_path / "two").iterdir()) == [".train.lock", "checkpoints", "config.json",
                                                                      "model.pt"]  # .train.lock: invdn.engine.run_lock
    assert [p.name for p in (tmp_path / "two" / "checkpoints").iterdir()] == \
        [p.name for p in (tmp_path / "one" / "checkpoints").iterdir()]
    client = MlflowClient(tracking_uri=uri)
    (run,) = client.search_runs([client.get_experiment_by_name("ddp").experiment_id])
    assert run.info.status == "FINISHED" and run.data.params["train.processes"] == "2"
    # the logged losses are the joint batch's, those of the 1-process run
    logged = sorted((m.step, m.value) for m in client.get_metric_history(run.info.run_id, "loss"))
    expected = [(step, m["loss"]) for step, m in logger.metrics if "loss" in m]
    assert [s for s, _ in logged] == [s for s, _ in expected] == [1, 2, 3]
    assert [v for _, v in logged] == pytest.approx([v for _, v in expected], rel=1e-5)


def test_a_nan_on_one_rank_rolls_every_rank_back(tiny_data, tmp_path, monkeypatch):
    train_settings = dict(iterations=5, batch_size=2, nan_rollbacks=1, nan_lr_factor=0.25, lr=1e-3, lr_milestones=[100])
    script = tmp_path / "nan_on_rank_1.py"
    script.write_text(NAN_ON_RANK_1)
    raw = tiny_run_config(tiny_data, processes=2, **train_settings)
    proc = torchrun([str(script), json.dumps(raw), str(tmp_path / "two")], cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    reports = [json.loads((tmp_path / f"report{rank}.json").read_text()) for rank in (0, 1)]
    # both: steps 1-3, the NaN at step 4, then steps 3-5 again from the step-2 checkpoint
    assert reports == [{"rank": 0, "step": 5, "calls": 7}, {"rank": 1, "step": 5, "calls": 7}]
    assert proc.stderr.count("loss is nan at step 4") == 2, proc.stderr[-5000:]  # each rank's warning

    nan_at_call(monkeypatch, 4)
    one = train(run_config(tiny_run_config(tiny_data, **{**train_settings, "batch_size": 4})), tmp_path / "one",
                progress=False)
    a, b = weights(tmp_path / "two" / "model.pt"), weights(one.model_path)
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=1e-4, atol=1e-5, msg=k)

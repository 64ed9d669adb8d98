"""Training on several processes (one per GPU) started by torchrun, equal to one process with their joint batch.

``torchrun --standalone --nproc_per_node N -m invdn.cli train ...`` starts N copies of the command with
RANK, WORLD_SIZE and LOCAL_RANK in their environment; ``process_group`` joins them (NCCL on CUDA, each
rank on cuda:LOCAL_RANK; gloo on CPU) and returns a ``Group``, which the training loop asks for what
differs between ranks. With one process every ``Group`` method is the identity or does nothing.

A run on N processes with ``train.batch_size`` B follows the trajectory of one process with batch N x B,
up to float round-off:

- samples: sample k of the run is ``TrainPatches[k]`` (seeded per sample), so the global batch of step s
  is k in [s N B, (s + 1) N B), and rank r takes its slice [s N B + r B, s N B + (r + 1) B) (``samples``);
- random draws of the loss (InvDN's z_hf) from the step's generator are made at the global batch size,
  the draw a single process makes, and rank r keeps rows [r B, (r + 1) B) (``rank_rows``);
- gradients: every loss is a mean over its batch (invdn.losses, baselines.networks.training_loss), so the
  mean over ranks of their gradients is the gradient of the global batch (``average_gradients``);
- BatchNorm (the DnCNN baseline) becomes SyncBatchNorm, whose statistics are over the global batch; it
  exists on CUDA only, so on CPU a model with BatchNorm is refused (``sync_batchnorm``).

``RunConfig.trajectory_hash`` hashes processes x batch_size, so a run may resume on another number of GPUs.

Why not ``DistributedDataParallel``: its reducer averages only the gradients of a backward pass that
follows a forward call through the wrapper, and a ``train.Task``'s loss calls its bare model (InvDN twice:
forward, then reverse); DDP would then leave every rank with its own gradients, silently. One all-reduce
of the flattened gradients after the backward pass is what DDP computes, without overlapping the
communication with the backward pass, which matters little for models of a few million parameters.
"""
from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from datetime import timedelta
from typing import Iterable, Iterator

import torch
import torch.distributed as dist
from torch import nn
from torch.overrides import TorchFunctionMode
from torch.utils.data import Sampler

from invdn.config import ConfigError

# Rank 0 validates alone while the others wait in a collective; the full SIDD validation takes minutes,
# longer than NCCL's default timeout of 10 minutes would allow.
TIMEOUT = timedelta(minutes=60)

_BATCHNORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)


def launch() -> tuple[int, int, int]:
    """(RANK, WORLD_SIZE, LOCAL_RANK) from torchrun's environment; (0, 1, 0) outside torchrun."""
    env = os.environ
    return int(env.get("RANK", 0)), int(env.get("WORLD_SIZE", 1)), int(env.get("LOCAL_RANK", 0))


def is_main() -> bool:
    """Whether this process is rank 0, the one that logs and writes files (also before ``process_group``)."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank() == 0
    return launch()[0] == 0


def check_launch(processes: int) -> None:
    """Raise ConfigError unless torchrun started ``processes`` processes (``train.processes``)."""
    world = launch()[1]
    if world == processes:
        return
    if "WORLD_SIZE" not in os.environ:
        raise ConfigError(
            f"train.processes is {processes} but this process was not started by torchrun (WORLD_SIZE is unset); "
            f"run: torchrun --standalone --nproc_per_node {processes} -m invdn.cli train ..., or set train.processes: 1"
        )
    raise ConfigError(
        f"torchrun started {world} process(es) (WORLD_SIZE={world}) but train.processes is {processes}; "
        f"launch with --nproc_per_node {processes} or set train.processes: {world} "
        f"(batch_size is per process: the batch of a step is processes x batch_size)"
    )


class RankSamples(Sampler[int]):
    """The sample indices rank ``rank`` of ``world`` trains on at steps [start, stop), ``batch`` per step.

    Step s of the run is the global batch [s W B, (s + 1) W B) of one process with batch W x B; rank r
    takes [s W B + r B, s W B + (r + 1) B). With one process: [start B, stop B), as ``data.SampleRange``.
    """

    def __init__(self, start: int, stop: int, batch: int, rank: int = 0, world: int = 1):
        self.start, self.stop, self.batch, self.rank, self.world = start, stop, batch, rank, world

    def __iter__(self) -> Iterator[int]:
        for step in range(self.start, self.stop):
            first = (step * self.world + self.rank) * self.batch
            yield from range(first, first + self.batch)

    def __len__(self) -> int:
        return (self.stop - self.start) * self.batch


class _RankRows(TorchFunctionMode):
    """Draws from ``generator`` made for the global batch (world x batch rows, as one process draws
    them), of which this rank gets its ``batch`` rows. Only torch.randn and torch.rand are handled:
    any other use of the generator raises, rather than silently breaking the equality with one process."""

    _DRAWS = (torch.randn, torch.rand)

    def __init__(self, generator: torch.Generator, rank: int, world: int, batch: int):
        super().__init__()
        self.generator, self.rank, self.world, self.batch = generator, rank, world, batch

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if kwargs.get("generator") is not self.generator and not any(a is self.generator for a in args):
            return func(*args, **kwargs)
        if func not in self._DRAWS:
            raise NotImplementedError(
                f"the loss draws with {getattr(func, '__name__', func)} from the step generator; with train.processes > 1 "
                f"only torch.randn and torch.rand of (batch, ...) tensors are supported (invdn/distributed.py)"
            )
        if "size" in kwargs:
            size = tuple(kwargs.pop("size"))
        else:
            size = tuple(args[0]) if len(args) == 1 and not isinstance(args[0], int) else tuple(args)
        if not size or size[0] != self.batch:
            raise ValueError(
                f"the loss draws a {size} tensor from the step generator; with train.processes > 1 its first "
                f"dimension must be the batch ({self.batch}) so that each process can take its rows"
            )
        full = func((self.world * self.batch, *size[1:]), **kwargs)
        return full[self.rank * self.batch : (self.rank + 1) * self.batch]


@dataclass(frozen=True)
class Group:
    """This process's place among the ``world`` processes of a run, and the collectives the loop needs."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")

    @property
    def main(self) -> bool:
        """Rank 0: the process that logs to MLflow, validates and writes checkpoints and the model."""
        return self.rank == 0

    def barrier(self) -> None:
        if self.world > 1:
            dist.barrier()

    def any(self, flag: bool) -> bool:
        """Whether ``flag`` is true on any rank (every rank must call it at the same point)."""
        if self.world == 1:
            return flag
        t = torch.tensor([float(flag)], device=self.device)
        dist.all_reduce(t)
        return bool(t.item() > 0)

    def mean(self, values: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Scalars averaged over the ranks (detached): the global batch's losses, non-finite when any rank's is.
        With one process, ``values`` itself."""
        if self.world == 1:
            return values
        stacked = torch.stack([v.detach().float().reshape(()) for v in values.values()])
        dist.all_reduce(stacked)
        return dict(zip(values, (stacked / self.world).unbind()))

    def gather(self, tensor: torch.Tensor) -> torch.Tensor:
        """Every rank's ``tensor`` (same shape on all), concatenated along dim 0 in rank order, on the CPU."""
        if self.world == 1:
            return tensor
        local = tensor.to(self.device)
        parts = [torch.empty_like(local) for _ in range(self.world)]
        dist.all_gather(parts, local)
        return torch.cat(parts).cpu()

    def average_gradients(self, parameters: Iterable[nn.Parameter]) -> None:
        """Replace each gradient by its mean over the ranks, in one all-reduce of the flattened gradients."""
        grads = [p.grad for p in parameters if p.grad is not None]
        if self.world == 1 or not grads:
            return
        flat = torch.cat([g.reshape(-1) for g in grads])
        dist.all_reduce(flat)
        flat /= self.world
        for g, part in zip(grads, flat.split([g.numel() for g in grads])):
            g.copy_(part.view(g.shape))

    def broadcast(self, module: nn.Module) -> None:
        """Rank 0's parameters and buffers to every rank (they agree already when initialised from the same seed)."""
        if self.world > 1:
            for tensor in module.state_dict().values():
                dist.broadcast(tensor, src=0)

    def samples(self, start: int, stop: int, batch: int) -> RankSamples:
        """This rank's sample indices for steps [start, stop) (see ``RankSamples``)."""
        return RankSamples(start, stop, batch, self.rank, self.world)

    def rank_rows(self, generator: torch.Generator, batch: int) -> contextlib.AbstractContextManager:
        """Within it, draws from ``generator`` give this rank's rows of the global batch's draw."""
        if self.world == 1:
            return contextlib.nullcontext()
        return _RankRows(generator, self.rank, self.world, batch)

    def sync_batchnorm(self, module: nn.Module) -> nn.Module:
        """``module`` with its BatchNorm layers computing statistics over all ranks' batches.

        Raises:
            ConfigError: a model with BatchNorm on more than one CPU process (SyncBatchNorm needs CUDA).
        """
        if self.world == 1 or not any(isinstance(m, _BATCHNORMS) for m in module.modules()):
            return module
        if self.device.type != "cuda":
            raise ConfigError(
                f"{type(module).__name__} has BatchNorm layers: training it on {self.world} processes needs CUDA "
                f"(SyncBatchNorm, so batch statistics span all processes); on CPU set train.processes: 1"
            )
        return nn.SyncBatchNorm.convert_sync_batchnorm(module)


@contextlib.contextmanager
def process_group(processes: int, device: torch.device) -> Iterator[Group]:
    """The run's ``Group``: with ``processes`` > 1, joins torchrun's process group for the block.

    ``device`` is the run's (``train.device``); on CUDA, rank r uses cuda:LOCAL_RANK instead.

    Raises:
        ConfigError: torchrun's WORLD_SIZE is not ``processes`` (``check_launch``).
        RuntimeError: more than one process and torch was built without torch.distributed, or
            LOCAL_RANK has no CUDA device.
    """
    check_launch(processes)
    rank, world, local_rank = launch()
    if world == 1:
        yield Group(device=device)
        return
    if not dist.is_available():
        raise RuntimeError(f"train.processes is {processes} but this torch build has no torch.distributed")
    if device.type == "cuda":
        if local_rank >= torch.cuda.device_count():
            raise RuntimeError(f"LOCAL_RANK {local_rank} but only {torch.cuda.device_count()} CUDA device(s) are visible")
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
    owned = not dist.is_initialized()
    if owned:
        if device.type == "cuda":
            dist.init_process_group("nccl", timeout=TIMEOUT, device_id=device)
        else:
            dist.init_process_group("gloo", timeout=TIMEOUT)
    try:
        yield Group(rank, world, local_rank, device)
    finally:
        if owned:
            dist.destroy_process_group()

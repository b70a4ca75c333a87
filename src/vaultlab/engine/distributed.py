"""Data-parallel training of one run over several processes (torchrun, or Slurm tasks through submitit).

Every rank runs the whole recipe on the same data and keeps identical weights: each trains on its
slice of every global batch, and the gradients are averaged across ranks before the optimiser step
(what DistributedDataParallel does, applied to whatever modules a recipe hands the engine, so recipes
keep plain modules and attribute access). With equal slices the averaged gradient is the gradient of
the global batch's mean loss, so N processes reproduce one process with the same global batch up to
floating-point summation order. BatchNorm layers become SyncBatchNorm on CUDA (NCCL); on CPU (gloo)
PyTorch has no SyncBatchNorm, so there each rank normalises with its own slice's statistics.
Scoring is not split: every rank scores every row, and only rank 0 writes (``vaultlab.runs``).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class Group:
    rank: int = 0
    world: int = 1

    @property
    def active(self) -> bool:
        return self.world > 1


def current_group() -> Group:
    if dist.is_available() and dist.is_initialized():
        return Group(dist.get_rank(), dist.get_world_size())
    return Group()


def init_from_env(device: str = "auto") -> Group:
    """Join the process group torchrun (or submitit's TorchDistributedEnvironment) described in the
    environment: NCCL with one GPU per local rank when the run's ``device`` is CUDA ("auto" on a
    machine with a GPU), else gloo, also on a GPU machine asked for ``cpu``. One process: nothing to join."""
    world = int(os.environ.get("WORLD_SIZE", "1") or 1)
    if world <= 1 or (dist.is_available() and dist.is_initialized()):
        return current_group()
    if torch.cuda.is_available() and (device == "auto" or device.startswith("cuda")):
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        dist.init_process_group("nccl")
    else:
        dist.init_process_group("gloo")
    return current_group()


def leave_group() -> None:
    """Leave the process group ``init_from_env`` joined (nothing to do in one process). A rank that exits
    with its group still up can abort in teardown ("terminate called without an active exception",
    seen once in CI on a gloo run that had finished): call this when the work is done, or failed."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def shard(idx, group: Group):
    """This rank's rows of one global batch of indices."""
    if len(idx) % group.world:
        raise ValueError(f"a global batch of {len(idx)} rows does not split evenly over {group.world} processes; "
                         f"use a batch_size divisible by {group.world}")
    return idx[group.rank::group.world]


def average_gradients(modules: Iterable[torch.nn.Module], group: Group) -> None:
    """All-reduce every gradient into its mean over the ranks, in one flat buffer (one collective per step)."""
    grads = [p.grad for m in modules for p in m.parameters() if p.grad is not None]
    if not grads:
        return
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat)
    flat /= group.world
    offset = 0
    for g in grads:
        g.copy_(flat[offset:offset + g.numel()].view_as(g))
        offset += g.numel()


def average_values(values: dict[str, float], group: Group) -> dict[str, float]:
    """Mean of logged loss values over the ranks, so the history shows the global batch's loss."""
    keys = sorted(values)
    t = torch.tensor([values[k] for k in keys], dtype=torch.float64)
    dist.all_reduce(t)
    return {k: float(v) / group.world for k, v in zip(keys, t.tolist())}


def sync_batchnorm(module: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    if device.type == "cuda":
        return torch.nn.SyncBatchNorm.convert_sync_batchnorm(module)
    return module

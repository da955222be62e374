"""One code path for one process or many under torchrun: set-up, sums across ranks, sharding
of evaluation batches and gathering their per-example results on every rank."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TypeVar

import numpy as np
import torch
import torch.distributed as dist

__all__ = ["setup_distributed", "all_reduce_sum", "shard", "gather_array", "is_main"]

T = TypeVar("T")


def setup_distributed(device_arg: str | None) -> tuple[int, int, torch.device]:
    """(rank, world size, device); initialises the process group under torchrun."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    cuda = torch.cuda.is_available() and (device_arg is None or device_arg.startswith("cuda"))
    if cuda:
        device = torch.device(device_arg if device_arg and ":" in device_arg else f"cuda:{local}")
        torch.cuda.set_device(device)
    else:
        device = torch.device("cpu")
    if world > 1:
        dist.init_process_group("nccl" if cuda else "gloo")
    return rank, world, device


def all_reduce_sum(values: list[float], device: torch.device) -> list[float]:
    t = torch.tensor(values, dtype=torch.float64, device=device)
    if dist.is_initialized():
        dist.all_reduce(t)
    return t.tolist()


def is_main() -> bool:
    return not dist.is_initialized() or dist.get_rank() == 0


def shard(items: Sequence[T]) -> list[tuple[int, T]]:
    """This rank's (index, item) pairs: every world-th item, so the work of a batch list is
    split across ranks while each batch keeps its global index (and so its seeds)."""
    if not dist.is_initialized():
        return list(enumerate(items))
    rank, world = dist.get_rank(), dist.get_world_size()
    return [(i, it) for i, it in enumerate(items) if i % world == rank]


def gather_array(parts: Sequence[np.ndarray]) -> np.ndarray:
    """This rank's per-example arrays concatenated, then every rank's joined (same on all)."""
    local = np.concatenate(list(parts)) if len(parts) else np.zeros(0)
    if not dist.is_initialized():
        return local
    everyone: list = [None] * dist.get_world_size()
    dist.all_gather_object(everyone, local)
    non_empty = [e for e in everyone if e.size]
    return np.concatenate(non_empty) if non_empty else local

"""Data-parallel training on ``torch.distributed`` (``python -m torch.distributed.run ... --distributed``).

Scheme (argued in docs/scaling.md): every rank holds both tables whole and samples its own
pairs (its generator is seeded by ``seed`` and its rank). After the backward pass each rank
all-gathers the (rows, gradients) it touched; every rank then applies the same update to the
same rows, so the tables stay identical without an all-reduce of two (n, d) tables. A step
moves ``world x (B_local + C_local) x d`` floats instead of ``2 n d``: 2 x 1024 x 64 floats
against 2 x 82,115 x 64 on WordNet. Full negatives touch every document row: that
gradient is all-reduced densely. The loss of a rank is the mean over its local batch, so the
gathered gradients are divided by the world size: the step equals a single-process step on
the union of the ranks' batches (with in-batch negatives, each rank's negatives are its own
batch, as in DDP without gathering embeddings).

The tables are broadcast from rank 0 at every validation, so floating-point differences of
atomics on GPUs cannot let ranks drift. gloo on the CPU, NCCL on GPUs; only rank 0 writes.
"""

from __future__ import annotations

import os

import torch
import torch.distributed as dist

from ..errors import InputError


def init(device: str) -> tuple[int, int]:
    """Join the process group torchrun set up (env:// rendezvous); returns (rank, world size)."""
    if not dist.is_initialized():
        if "RANK" not in os.environ:
            raise InputError("--distributed needs the environment of python -m torch.distributed.run",
                             hint="python -m torch.distributed.run --nproc_per_node 2 -m hrviz train ... --distributed")
        dist.init_process_group("nccl" if device == "cuda" else "gloo")
    if device == "cuda":
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", 0)))
    return dist.get_rank(), dist.get_world_size()


def rank_device(device: str) -> torch.device:
    if device == "cuda" and dist.is_initialized():
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
    return torch.device(device)


def gather_rows(world: int):
    """``reduce(name, rows, grad) -> (rows, grad)`` for :func:`~hrviz.training.optim.table_step`."""

    def reduce(name, rows, grad):
        if rows is None:  # every row touched (full negatives): dense all-reduce
            dist.all_reduce(grad)
            return None, grad / world
        rs = [torch.empty_like(rows) for _ in range(world)]
        gs = [torch.empty_like(grad) for _ in range(world)]
        dist.all_gather(rs, rows.contiguous())
        dist.all_gather(gs, grad.contiguous())
        return torch.cat(rs), torch.cat(gs) / world

    return reduce


def broadcast_model(model) -> None:
    with torch.no_grad():
        dist.broadcast(model.q.data, 0)
        dist.broadcast(model.d.data, 0)


def finish() -> None:
    if dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()

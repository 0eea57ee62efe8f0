"""One run on several processes (``torchrun``): the process group, and the distiller under
``DistributedDataParallel``. Every rank draws the same global batch from the run's seeded
generator and trains on its contiguous shard of it (the first ``B mod W`` ranks take one example
more); loss terms are gathered so that each rank logs the global batch's means, and gradients are
weighted by shard size, so a step equals the single-process step on the global batch up to float
error (batch norm statistics stay per rank, as DDP keeps them)."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor
from torch.nn.parallel import DistributedDataParallel

from kdbench.data.tensors import Batch
from kdbench.errors import KdbenchError
from kdbench.methods import Distiller

WAIT = timedelta(days=7)
"""How long the other ranks wait while rank 0 alone trains a teacher (on a gloo group of its own,
so that the training collectives keep their backend's default timeout)."""

_waiting: Any = None


@dataclass(frozen=True)
class Group:
    """This process's place among ``world_size`` processes of one run, as torchrun sets it."""

    rank: int
    local_rank: int
    world_size: int

    @property
    def main(self) -> bool:
        """Whether this rank writes: results, checkpoints, teachers, logs and progress."""
        return self.rank == 0


def from_environ(environ: Mapping[str, str] = os.environ) -> Group | None:
    """The group that torchrun's ``WORLD_SIZE``, ``RANK`` and ``LOCAL_RANK`` describe; None for
    one process (no ``WORLD_SIZE``, or 1)."""
    if environ.get("WORLD_SIZE", "1").strip() in ("", "1"):
        return None
    values = {}
    for name in ("WORLD_SIZE", "RANK", "LOCAL_RANK"):
        text = environ.get(name, "").strip()
        if not text.isdigit():
            raise KdbenchError(f"{name}={text!r} in the environment: under torchrun WORLD_SIZE, RANK "
                               "and LOCAL_RANK are whole numbers (start kdbench with torchrun)")
        values[name] = int(text)
    for name in ("MASTER_ADDR", "MASTER_PORT"):
        if not environ.get(name, "").strip():
            raise KdbenchError(f"WORLD_SIZE={values['WORLD_SIZE']} but no {name} in the environment: "
                               "start kdbench with torchrun, which sets both")
    group = Group(values["RANK"], values["LOCAL_RANK"], values["WORLD_SIZE"])
    if group.rank >= group.world_size:
        raise KdbenchError(f"RANK={group.rank} in the environment: it must be below "
                           f"WORLD_SIZE={group.world_size}")
    return group


def device_for(group: Group, name: str) -> str:
    """Each rank's device: ``cuda:LOCAL_RANK`` for ``auto`` (with CUDA) and ``cuda``, else the CPU."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cpu":
        return "cpu"
    if name == "cuda":
        if group.local_rank >= torch.cuda.device_count():
            raise KdbenchError(f"LOCAL_RANK={group.local_rank}: torch sees "
                               f"{torch.cuda.device_count()} CUDA devices; start at most that many "
                               "processes per node (torchrun --nproc_per_node)")
        return f"cuda:{group.local_rank}"
    raise KdbenchError(f"--device {name} under torchrun: use auto, cuda (each rank takes "
                       "cuda:LOCAL_RANK) or cpu")


def start(group: Group, device: torch.device) -> None:
    """Join the process group (``env://``: nccl on CUDA, gloo on the CPU) and make the gloo group
    that ranks wait on while rank 0 works alone."""
    global _waiting
    if device.type == "cuda":
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo", rank=group.rank,
                                world_size=group.world_size)
    if _waiting is None:
        _waiting = dist.new_group(backend="gloo", timeout=WAIT)


def wait() -> None:
    """Wait until every rank gets here (rank 0 may take as long as a teacher's training)."""
    dist.barrier(group=_waiting)


def broadcast(value: Any) -> Any:
    """Rank 0's ``value`` (plain JSON: numbers, strings, lists) on every rank. JSON, not pickle:
    what a rank receives can carry no code."""
    data = torch.frombuffer(bytearray(json.dumps(value).encode()), dtype=torch.uint8)
    size = torch.tensor([len(data)])
    dist.broadcast(size, 0, group=_waiting)
    buffer = data if dist.get_rank() == 0 else torch.empty(int(size), dtype=torch.uint8)
    dist.broadcast(buffer, 0, group=_waiting)
    return json.loads(buffer.numpy().tobytes().decode())


def shard(batch: Batch, rank: int, world_size: int) -> Batch:
    """This rank's contiguous part of a global batch; the first ``len(batch) mod world_size``
    ranks take one example more."""
    bounds = torch.tensor_split(torch.arange(len(batch.labels)), world_size)[rank]
    if len(bounds) == 0:
        raise ValueError(f"a batch of {len(batch.labels)} examples leaves rank {rank} of "
                         f"{world_size} without any; give a larger batch_size or fewer processes")
    part = slice(int(bounds[0]), int(bounds[-1]) + 1)
    return Batch(batch.images[part], batch.labels[part], batch.index[part], batch.label_mask[part],
                 None if batch.view is None else batch.view[part])


def global_means(terms: dict[str, Tensor], size: int, total: int, world_size: int) -> dict[str, Tensor]:
    """Each term's mean over the global batch of ``total`` examples (this rank's ``size`` of them);
    its gradient is this rank's term weighted by ``size * world_size / total``, so that DDP's
    average over ranks is the gradient of the global mean."""
    values = torch.stack([value.detach().float() * size for value in terms.values()])
    dist.all_reduce(values)
    weight = size * world_size / total
    return {name: value * weight + (mean.to(value.dtype) - value * weight).detach()
            for (name, value), mean in zip(terms.items(), values / total, strict=True)}


class Replica(DistributedDataParallel):
    """A distiller under DDP that takes the global batch and returns its global mean loss terms,
    trained on this rank's shard."""

    def __init__(self, distiller: Distiller, group: Group, device: torch.device):
        super().__init__(distiller, device_ids=[device] if device.type == "cuda" else None)
        self.group = group

    def forward(self, batch: Batch, epoch: int) -> dict[str, Tensor]:
        part = shard(batch, self.group.rank, self.group.world_size)
        terms = super().forward(part, epoch)
        return global_means(terms, len(part.labels), len(batch.labels), self.group.world_size)

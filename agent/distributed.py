"""Several processes (`torchrun --nproc_per_node N train.py ...`): DistributedDataParallel updates.

Rank 0 collects real data, evaluates and writes checkpoints; every rank reads
the shared episode store, samples its own batches and takes part in every
update, whose gradients DDP all-reduces. Without torchrun there is one process
and every helper here is a no-op.
"""
import os
import sys
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel


@dataclass
class Distributed:
    rank: int = 0
    world_size: int = 1

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @classmethod
    def from_environment(cls, device: torch.device) -> "Distributed":
        """Join the process group that torchrun describes in the environment, if any."""
        world_size = int(os.environ.get("WORLD_SIZE", "1"))
        if world_size == 1:
            return cls()
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
        return cls(dist.get_rank(), world_size)

    def wrap(self, module: torch.nn.Module) -> torch.nn.Module:
        return DistributedDataParallel(module) if self.enabled else module

    def barrier(self) -> None:
        if self.enabled:
            dist.barrier()

    def broadcast_int(self, value: int) -> int:
        """Rank 0's value on every rank."""
        if not self.enabled:
            return value
        tensor = torch.tensor([value], dtype=torch.long)
        dist.broadcast(tensor, 0)
        return int(tensor.item())

    def all_finite(self, loss: torch.Tensor) -> bool:
        """True when the loss is finite on every rank, so all ranks skip or take the update together."""
        finite = torch.tensor([float(torch.isfinite(loss).all())])
        if self.enabled:
            dist.all_reduce(finite, op=dist.ReduceOp.MIN)
        return bool(finite.item())

    def broadcast_buffers(self, module: torch.nn.Module) -> None:
        """Rank 0's buffers (e.g. the autoencoder's latent statistics) on every rank."""
        if self.enabled:
            for buffer in module.buffers():
                dist.broadcast(buffer, 0)

    def finish(self, modules) -> None:
        """Leave the group together (a rank leaving early can hang rank 0 at exit), each rank first writing a
        checksum of its parameters: equal on all ranks when DDP kept them in step."""
        if not self.enabled:
            return
        self.barrier()
        checksum = sum(p.double().sum().item() for module in modules for p in module.parameters())
        sys.stderr.write(f"rank {self.rank}: parameter checksum {checksum:.10e}\n")  # one write: no interleaving
        dist.destroy_process_group()

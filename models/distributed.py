"""Where the trainer runs: the device per rank under ``torchrun``, process group, DDP wrapping, loss
averaging, and the description of the device on the model card.

``torchrun --nproc_per_node N -m ...`` (or ``python -m torch.distributed.run``) starts N processes and
sets ``RANK``, ``LOCAL_RANK`` and ``WORLD_SIZE``; without them the run is a single process and nothing
here does anything. The backend is NCCL on CUDA and gloo on CPU (which is how the tests run two ranks).
Only rank 0 writes logs and checkpoints.
"""

from __future__ import annotations

import os
import platform
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from models.checkpoint import state_dict_sha256


@dataclass(frozen=True)
class DistributedContext:
    """Where this process stands in the run: ``rank`` of ``world_size``, GPU ``local_rank`` on its node."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        """Rank 0: the process that logs and saves."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @classmethod
    def from_environment(cls) -> DistributedContext:
        """Read ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK`` (set by torchrun; absent: one process)."""
        try:
            context = cls(
                rank=int(os.environ.get("RANK", "0")),
                world_size=int(os.environ.get("WORLD_SIZE", "1")),
                local_rank=int(os.environ.get("LOCAL_RANK", "0")),
            )
        except ValueError as exc:
            raise ValueError(f"RANK, WORLD_SIZE and LOCAL_RANK must be integers (set by torchrun): {exc}") from None
        if context.world_size < 1 or not 0 <= context.rank < context.world_size:
            raise ValueError(f"bad torchrun environment: RANK={context.rank}, WORLD_SIZE={context.world_size}")
        return context


def resolve_device(name: str, context: DistributedContext) -> torch.device:
    """``auto`` -> CUDA when available, else CPU; under torchrun each rank takes GPU ``local_rank``."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    device = torch.device(name)
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device {name!r} asked for, but this torch build sees no CUDA GPU; use cpu or auto")
        if device.index is None:
            device = torch.device("cuda", context.local_rank if context.distributed else torch.cuda.current_device())
        torch.cuda.set_device(device)
    return device


def init_process_group(context: DistributedContext, device: torch.device) -> None:
    """Join the torchrun process group (NCCL on CUDA, gloo on CPU); no-op for a single process."""
    if context.distributed and not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")


def destroy_process_group() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


def wrap(module: nn.Module, context: DistributedContext, device: torch.device) -> nn.Module:
    """``module`` in DistributedDataParallel when running on several ranks, else itself."""
    if not context.distributed:
        return module
    device_ids = [device.index] if device.type == "cuda" else None
    return DistributedDataParallel(module, device_ids=device_ids)


def mean_over_ranks(values: dict[str, float], context: DistributedContext, device: torch.device) -> dict[str, float]:
    """Average scalar logs over the ranks (every rank gets the mean); unchanged for a single process."""
    if not context.distributed or not values:
        return values
    keys = sorted(values)
    tensor = torch.tensor([values[k] for k in keys], dtype=torch.float64, device=device)
    dist.all_reduce(tensor)
    return dict(zip(keys, (tensor / context.world_size).tolist(), strict=True))


def cpu_name() -> str:
    """The processor's model name (from /proc/cpuinfo where there is one)."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text(errors="replace").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine() or "unknown CPU"


def describe_device(device: torch.device, world_size: int = 1) -> str:
    """Where training ran, for the model card, e.g. ``CPU (2 cores, 2 threads; Intel(R) Xeon(R) ...)``."""
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
        return f"{world_size} x {name}" if world_size > 1 else name
    ranks = f"{world_size} processes, " if world_size > 1 else ""
    return f"CPU ({ranks}{os.cpu_count()} cores, {torch.get_num_threads()} threads; {cpu_name()})"


def check_ranks_in_sync(networks: Sequence[nn.Module], context: DistributedContext, steps: int) -> None:
    """Under torchrun: every rank prints the digest of ``networks``' parameters; rank 0 raises
    :class:`RuntimeError` if they differ (DDP went out of sync). Nothing in a single process."""
    if not context.distributed:
        return
    digest = "".join(state_dict_sha256(network.state_dict())[:16] for network in networks)
    digests: list[str] = [""] * context.world_size
    dist.all_gather_object(digests, digest)
    print(f"rank {context.rank}/{context.world_size}: {steps} steps, parameter digest {digest}", flush=True)
    if context.is_main and len(set(digests)) != 1:
        raise RuntimeError(f"ranks ended with different parameters (digests {digests}); DDP went out of sync")

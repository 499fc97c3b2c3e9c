"""The process a model runs in: its device, its rank under `torchrun`, and process-wide speed settings.

Imported by the commands that run a model, never for `posedenoise --help` (it loads PyTorch).
"""

from __future__ import annotations

import ctypes
import os
import re
import sys
from dataclasses import dataclass

import torch
import torch.distributed as dist

from posedenoise.errors import PoseDenoiseError

DEVICE_PATTERN = re.compile(r"auto|cpu|cuda(:\d+)?|mps")


def resolve_device(device: str) -> torch.device:
    """auto (a GPU if there is one), cpu, cuda, cuda:N or mps -> a device this machine has."""
    if not DEVICE_PATTERN.fullmatch(str(device)):
        raise PoseDenoiseError(f"--device must be auto, cpu, cuda, cuda:N or mps, got {device!r}")
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise PoseDenoiseError(f"--device {device}: CUDA is not available on this machine")
        index = torch.device(device).index
        if index is not None and index >= torch.cuda.device_count():
            raise PoseDenoiseError(
                f"--device {device}: this machine has {torch.cuda.device_count()} GPU(s), cuda:0 to "
                f"cuda:{torch.cuda.device_count() - 1}"
            )
    if device == "mps" and not torch.backends.mps.is_available():
        raise PoseDenoiseError("--device mps: MPS is not available on this machine")
    return torch.device(device)


def tune_cpu_allocator() -> bool:
    """Let freed activation buffers be reused instead of returned to the OS (glibc only; process-wide).

    A training step frees and reallocates buffers of up to ~130 MB (a bi-ConvLSTM activation at batch
    16). glibc serves blocks that large with mmap and unmaps them on free, so every step page-faults and
    zero-fills gigabytes anew: a sixth of a bi-ConvLSTM step's time on 2 CPU cores (docs/performance.md).
    Served from the heap, which is never trimmed, the next step reuses the same pages; the price is a
    peak resident memory up to ~15% higher (the heap's fragmentation). Returns whether it was set.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):  # not glibc
        return False
    m_trim_threshold, m_mmap_max = -1, -4  # glibc's malloc.h
    return bool(mallopt(m_mmap_max, 0)) and bool(mallopt(m_trim_threshold, 2**31 - 1))


def tune_cpu() -> None:
    """The CPU settings of every command that runs a model: reused activation buffers, and subnormal
    floats flushed to zero (x86 computes them in microcode: an untrained DeciWatch hit them and its first
    epoch ran 60x slower; flushing changes no result that PCK can see)."""
    tune_cpu_allocator()
    torch.set_flush_denormal(True)


def distributed_env() -> tuple[int, int, int]:
    """(rank, world_size, local_rank) from torchrun's environment; (0, 1, 0) outside it."""
    return (
        int(os.environ.get("RANK", 0)),
        int(os.environ.get("WORLD_SIZE", 1)),
        int(os.environ.get("LOCAL_RANK", 0)),
    )


@dataclass(frozen=True)
class Runtime:
    """This process's device and place among the training processes."""

    device: torch.device
    rank: int = 0
    world_size: int = 1

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """Rank 0: the process that writes the run and reports progress."""
        return self.rank == 0

    def describe(self) -> dict[str, str | int]:
        """What a run's config.json records of where it trained."""
        return {"device": str(self.device), "world_size": self.world_size}

    def parallel(self, model: torch.nn.Module) -> torch.nn.Module:
        """The model that trains: `model` wrapped in DistributedDataParallel under torchrun, else itself."""
        return torch.nn.parallel.DistributedDataParallel(model) if self.distributed else model

    def barrier(self) -> None:
        """Wait for every process (no-op in a single process)."""
        if self.distributed:
            dist.barrier()

    def rng_state(self) -> dict[str, torch.Tensor]:
        """This process's global RNG state (dropout draws), CPU and CUDA."""
        state = {"cpu": torch.get_rng_state()}
        if self.device.type == "cuda":
            state["cuda"] = torch.cuda.get_rng_state(self.device)
        return state

    def rng_states(self) -> list[dict[str, torch.Tensor]]:
        """Every rank's `rng_state`, in rank order (all ranks must call it)."""
        state = self.rng_state()
        if not self.distributed:
            return [state]
        states: list = [None] * self.world_size
        dist.all_gather_object(states, state)
        return states

    def set_rng_state(self, state: dict[str, torch.Tensor]) -> None:
        torch.set_rng_state(state["cpu"])
        if self.device.type == "cuda" and "cuda" in state:
            torch.cuda.set_rng_state(state["cuda"], self.device)


def setup(device: str = "auto") -> Runtime:
    """The runtime of a training process: the device, under torchrun this process's GPU and the process
    group (NCCL on GPUs, Gloo on CPUs), and on the CPU the settings of `tune_cpu`."""
    rank, world_size, local_rank = distributed_env()
    dev = resolve_device(device)
    if world_size > 1:
        if dev.type == "cuda":
            dev = torch.device("cuda", local_rank)
            torch.cuda.set_device(dev)
        if not dist.is_initialized():
            dist.init_process_group("nccl" if dev.type == "cuda" else "gloo")
    if dev.type == "cpu":
        tune_cpu()
    return Runtime(dev, rank, world_size)

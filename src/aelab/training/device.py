"""Where and how a run computes: device, precision (autocast) and CPU threads."""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import platform
from collections.abc import Iterator

import torch

from aelab.errors import ConfigError

AUTOCAST_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def resolve_device(spec: str, local_rank: int = 0) -> torch.device:
    """``auto`` -> CUDA when present (``cuda:<local_rank>`` under DDP), else CPU."""
    spec = spec.strip().lower()
    if spec == "auto":
        spec = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        device = torch.device(spec)
    except RuntimeError:
        raise ConfigError(
            f"train.device={spec!r} is invalid: expected auto, cpu, cuda or cuda:N."
        ) from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(
                f"train.device={spec!r} but CUDA is not available (torch {torch.__version__}); "
                "use --device cpu or --device auto."
            )
        index = device.index if device.index is not None else local_rank
        if index >= torch.cuda.device_count():
            raise ConfigError(
                f"train.device={spec!r}: only {torch.cuda.device_count()} CUDA device(s) found."
            )
        return torch.device("cuda", index)
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise ConfigError("train.device='mps' but MPS is not available; use --device cpu.")
    if device.type not in ("cpu", "cuda", "mps"):
        raise ConfigError(f"train.device={spec!r} is invalid: expected auto, cpu, cuda or cuda:N.")
    return device


def resolve_precision(precision: str, device: torch.device) -> tuple[str, str | None]:
    """The precision actually used, and a note when it differs from the one asked for.

    Mixed precision is a GPU feature here: on CPU, bf16 autocast is slower than fp32 on
    machines without AMX/AVX512-BF16 and fp16 has no fast CPU kernels, so a CPU run trains
    in fp32 and says so in one line (not a warning: the result is correct, only the speed
    trade-off differs). A fp32 run on a bf16 config gives the same model up to rounding.
    """
    if precision == "fp32" or device.type == "cuda":
        if precision == "bf16" and device.type == "cuda" and not torch.cuda.is_bf16_supported():
            return "fp16", "bf16 is not supported on this GPU; using fp16 autocast instead."
        return precision, None
    return "fp32", f"precision {precision} applies to CUDA only; training in fp32 on {device.type}."


@contextlib.contextmanager
def autocast(precision: str, device: torch.device) -> Iterator[None]:
    """Autocast to ``precision`` (bf16/fp16) on CUDA; a no-op for fp32."""
    if precision == "fp32":
        yield
        return
    with torch.autocast(device_type=device.type, dtype=AUTOCAST_DTYPES[precision]):
        yield


def auto_threads(world_size: int = 1) -> int:
    """The intra-op thread count used when ``train.threads = 0``.

    Measured for R1 (dense 784-32-784, batch 256, fused Adam) on the 2-core build machine
    while other jobs ran: 1 thread 2.4 ms/step, 2 threads 30-220 ms/step (OpenMP threads
    spin and wait on a busy core). Small autoencoders gain little from more threads and
    lose badly to contention, so: one thread on machines of up to 2 cores, else the cores
    divided among the processes of this machine, at most 8.
    """
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    cpus = cpus or 1
    if cpus <= 2:
        return 1
    return max(1, min(8, cpus // max(1, world_size)))


@contextlib.contextmanager
def cpu_threads(threads: int) -> Iterator[int]:
    """Set torch's intra-op threads for the block and restore the previous count after.

    At most ``os.cpu_count()``: more only oversubscribes the cores, and OpenMP crashes
    (a segfault, not an error) when asked for tens of thousands.
    """
    cpus = os.cpu_count() or 1
    if not 1 <= threads <= cpus:
        raise ConfigError(
            f"train.threads={threads} is invalid: expected 1 to {cpus} (the CPUs of this "
            "machine, os.cpu_count()), or 0 for automatic."
        )
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield threads
    finally:
        torch.set_num_threads(previous)


# glibc's mallopt parameters (malloc.h).
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_MALLOC_TUNED = False


def tune_cpu_allocator() -> bool:
    """Keep freed tensor memory in the process instead of returning it to the OS per step.

    glibc hands large blocks back to the kernel as soon as a few MB are free at the top of
    the heap (and serves blocks above a threshold straight from ``mmap``), so every batch
    re-faults the pages of its activations: measured on R1, validation in batches of 1024
    took 55-60 ms per epoch with the defaults and 30 ms with this tuning; the training
    steps gain a little too. Only blocks of 32 MB and more (datasets) still get their own
    mapping, and up to 256 MB of free heap is kept for reuse: the process stays at its
    peak memory, which it reaches anyway. Linux/glibc only; once per process; set
    ``AELAB_MALLOC_TUNING=0`` to leave the allocator alone. Returns whether it applied.
    """
    global _MALLOC_TUNED
    if _MALLOC_TUNED:
        return True
    if os.environ.get("AELAB_MALLOC_TUNING", "1") == "0" or platform.system() != "Linux":
        return False
    if platform.libc_ver()[0] != "glibc":
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    ok = mallopt(_M_MMAP_THRESHOLD, 32 * 2**20) == 1
    ok = mallopt(_M_TRIM_THRESHOLD, 256 * 2**20) == 1 and ok
    _MALLOC_TUNED = ok
    return ok

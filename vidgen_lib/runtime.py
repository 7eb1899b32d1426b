"""Where code runs and how it is seeded: the device, seeding, the profile, eval mode, a model's device,
and the processes of a run started by ``torchrun``.

Every notebook starts with ``seed_everything`` and asks ``device()`` where to put tensors, so the
same cells run on a laptop CPU and on a CUDA GPU without edits.
"""
from __future__ import annotations

import contextlib
import itertools
import os
import random
import sys
from collections.abc import Iterator

import numpy as np
import torch

PROFILES = ("tutorial", "full")


def device() -> torch.device:
    """The device every notebook and trainer uses: CUDA if present, else CPU.

    Set ``VIDGEN_DEVICE`` (e.g. ``cpu``, ``cuda:1``) to override the choice. A process that ``torchrun``
    started uses the GPU of its ``LOCAL_RANK`` (one GPU per process).
    """
    override = os.environ.get("VIDGEN_DEVICE")
    if override:
        return torch.device(override)
    if not torch.cuda.is_available():
        return torch.device("cpu")
    local_rank, gpus = int(os.environ.get("LOCAL_RANK", "0")), torch.cuda.device_count()
    if local_rank >= gpus:
        raise RuntimeError(f"This is process {local_rank} of its machine, but the machine has {gpus} GPU(s): "
                           f"start at most {gpus} processes per machine (torchrun --nproc_per_node {gpus}), "
                           "or train on the CPU with VIDGEN_DEVICE=cpu.")
    return torch.device("cuda", local_rank)


def seed_everything(seed: int = 0) -> torch.Generator:
    """Seed Python, NumPy and PyTorch (CPU and CUDA) and return a ``torch.Generator`` seeded alike."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # also seeds every CUDA device
    return torch.Generator().manual_seed(seed)


def profile() -> str:
    """The run profile from ``VIDGEN_PROFILE``: ``tutorial`` (default, CPU minutes) or ``full``
    (GPU hours)."""
    name = os.environ.get("VIDGEN_PROFILE", "tutorial").strip().lower() or "tutorial"
    if name not in PROFILES:
        raise ValueError(f"VIDGEN_PROFILE={name!r} is not a profile; use one of {PROFILES}.")
    return name


@contextlib.contextmanager
def eval_mode(model: torch.nn.Module) -> Iterator[torch.nn.Module]:
    """Run a block with ``model`` in eval mode and no gradients; its mode is restored after, even on error."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            yield model
    finally:
        model.train(was_training)


@contextlib.contextmanager
def single_thread() -> Iterator[None]:
    """Run PyTorch on one CPU thread inside the block, then give the thread count back: networks this small
    gain nothing from more threads, and on a busy machine the threads' synchronisation can make them many
    times slower."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def rng(seed: int | None) -> torch.Generator | None:
    """A CPU ``torch.Generator`` seeded with ``seed``, or ``None`` (the global generator) when
    ``seed`` is None.

    Library functions draw with it instead of reseeding the global generator, so a seeded call is
    repeatable without changing what the learner's next random draw will be.
    """
    return None if seed is None else torch.Generator().manual_seed(seed)


def model_device(model: torch.nn.Module) -> torch.device:
    """The device of ``model``'s first parameter (or buffer); the CPU for a model with neither."""
    for tensor in itertools.chain(model.parameters(), model.buffers()):
        return tensor.device
    return torch.device("cpu")


# --- several processes: data-parallel training started by torchrun ----------------------------------

def world() -> tuple[int, int]:
    """``(rank, world_size)`` of this process: ``(0, 1)`` unless it joined a process group
    (:func:`init_distributed`)."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return 0, 1


def init_distributed() -> tuple[int, int]:
    """Join the process group that ``torchrun`` describes in the environment (``RANK``, ``WORLD_SIZE``,
    ``MASTER_ADDR``, ``MASTER_PORT``): NCCL between GPUs, gloo between CPU processes.

    Does nothing in a process that ``torchrun`` did not start (``WORLD_SIZE`` unset or 1), or that has
    joined already. Returns :func:`world`.
    """
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and not torch.distributed.is_initialized():
        dev = device()
        if dev.type == "cuda":
            torch.cuda.set_device(dev)
        torch.distributed.init_process_group("nccl" if dev.type == "cuda" else "gloo")
    return world()


def end_distributed_process() -> None:
    """End a ``torchrun`` process once its work is done: wait until every process has arrived (rank 0
    has written its files), then exit at once with status 0. This never returns.

    Exiting at once skips the interpreter's own shutdown, in which gloo's communication threads are
    torn down in an order that sometimes aborts a process ("terminate called without an active
    exception", SIGABRT) after all its work is done, so that ``torchrun`` reports a failure.
    """
    torch.distributed.barrier()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)

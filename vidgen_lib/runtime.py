"""Where code runs and how it is seeded: one device helper, one seeding helper, one profile switch.

Every notebook starts with ``seed_everything`` and asks ``device()`` where to put tensors, so the
same cells run on a laptop CPU and on a CUDA GPU without edits.
"""
from __future__ import annotations

import os
import random

import numpy as np
import torch

PROFILES = ("tutorial", "full")


def device() -> torch.device:
    """The device every notebook and trainer uses: CUDA if present, else CPU.

    Set ``VIDGEN_DEVICE`` (e.g. ``cpu``, ``cuda:1``) to override the choice.
    """
    override = os.environ.get("VIDGEN_DEVICE")
    if override:
        return torch.device(override)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def seed_everything(seed: int = 0) -> torch.Generator:
    """Seed Python, NumPy and PyTorch (CPU and CUDA) and return a ``torch.Generator`` seeded alike."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # also seeds every CUDA device
    return torch.Generator().manual_seed(seed)


def profile() -> str:
    """The run profile from ``VIDGEN_PROFILE``: ``tutorial`` (default, CPU minutes) or ``full`` (GPU hours)."""
    name = os.environ.get("VIDGEN_PROFILE", "tutorial").strip().lower() or "tutorial"
    if name not in PROFILES:
        raise ValueError(f"VIDGEN_PROFILE={name!r} is not a profile; use one of {PROFILES}.")
    return name

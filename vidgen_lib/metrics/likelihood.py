"""Likelihood units for models with an exact (or bounded) likelihood: nats per frame, bits per dim."""
from __future__ import annotations

import math

from torch import Tensor

def nats_per_frame(nll_nats_total: float | Tensor, num_frames: int) -> float | Tensor:
    """Negative log-likelihood per predicted frame, the unit VPN reports on Moving MNIST.

    Sum the NLL (in nats, natural log) over every pixel of every predicted frame of every test
    video, then divide by how many frames that was. For VPN's setting (10 predicted frames per
    video) that is the per-video NLL divided by 10.

    Args:
        nll_nats_total: total NLL in nats over all predicted frames (a float or 0-dim tensor).
        num_frames: the number of frames that total covers (videos × predicted frames).

    Returns:
        NLL in nats per frame, the same type as ``nll_nats_total``.
    """
    if num_frames <= 0:
        raise ValueError(f"num_frames must be positive; got {num_frames}.")
    return nll_nats_total / num_frames


def bits_per_dim(nll_nats: float | Tensor, num_dims: int) -> float | Tensor:
    """Convert an NLL in nats to bits per dimension: nats / (dims · ln 2).

    ``num_dims`` is the number of values the NLL covers, e.g. C·T·H·W for one video. Dividing by
    ln 2 turns nats into bits, so 8 bits/dim means "no better than uniform over 256 levels".

    Args:
        nll_nats: NLL in nats (a float or tensor).
        num_dims: the number of dimensions (pixel values) that NLL covers.

    Returns:
        NLL in bits per dimension, the same type as ``nll_nats``.
    """
    if num_dims <= 0:
        raise ValueError(f"num_dims must be positive; got {num_dims}.")
    return nll_nats / (num_dims * math.log(2))

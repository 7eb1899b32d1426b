"""Content consistency over time: MoCoGAN's average content distance (ACD).

Tulyakov, Liu, Yang, Kautz, "MoCoGAN: Decomposing Motion and Content for Video Generation",
CVPR 2018, Sec. 4.1. Input: one feature vector per frame; which network makes them is the caller's
choice (``vidgen_lib.evaluation.acd_videos`` runs the course's identity features).
"""
from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from vidgen_lib.metrics.distances import ArrayLike

def acd(features_per_frame: ArrayLike) -> float:
    """Average Content Distance (MoCoGAN, Tulyakov et al. 2018, Sec. 4.1).

    For each video, the mean L2 distance over all pairs of its frames' content features
    (e.g. average colour, or an identity embedding), then the mean over videos. Lower means the
    content (who or what is in the video) stays the same over time; a static video scores 0.

    Args:
        features_per_frame: ``(N, T, D)`` one feature vector per frame, T >= 2.

    Returns:
        The ACD as a float.
    """
    feats = features_per_frame
    if isinstance(feats, np.ndarray):
        feats = torch.from_numpy(feats)
    if not isinstance(feats, Tensor) or feats.ndim != 3 or feats.shape[1] < 2:
        shape = tuple(feats.shape) if hasattr(feats, "shape") else type(feats).__name__
        raise ValueError(f"acd expects per-frame features of shape (N, T, D) with T >= 2; got {shape}.")
    feats = feats.detach().double()
    t = feats.shape[1]
    dist = torch.cdist(feats, feats)  # (N, T, T) pairwise L2 distances between frames
    pair_mean = dist.triu(diagonal=1).sum(dim=(1, 2)) / (t * (t - 1) / 2)  # (N,) over pairs i < j
    return float(pair_mean.mean())

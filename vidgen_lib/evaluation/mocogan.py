"""MoCoGAN's measurements: the model card's scores, and probes of the content/motion decomposition.

``evaluate`` writes the model card's numbers: :func:`~vidgen_lib.evaluation.generator_scores` (FVD,
motion FVD, frame FD and ACD beside the baselines', as for VGAN) and :func:`decomposition_scores`,
the swap test of notebook 03: rows of videos that share a content code z_C (or a motion path z_M),
labelled by the course's feature network, should agree on their digit (or on their axis of motion).
:func:`blend_content` walks from one content code to another with the motion fixed.
"""
from __future__ import annotations

import dataclasses

import torch
from einops import rearrange
from torch import Tensor

from vidgen_lib.datasets import video_batch
from vidgen_lib import features
from vidgen_lib.evaluation.protocols import generator_scores
from vidgen_lib.models import mocogan
from vidgen_lib.runtime import model_device, rng

HEADS = ("digit", "axis")  # what the feature network names: the digit (content), the axis of motion


def real_videos(config: mocogan.Config, n: int, split: str = "test") -> Tensor:
    """The first n videos of the ``split`` of the model's training world: (n, C, T, H, W) in [0, 1].

    ``"test"`` (the default) holds out clips never seen in training, the reference of every distance.
    """
    return video_batch(mocogan.training_data(dataclasses.replace(config, num_videos=n), split), n)


def decomposition_grids(model: mocogan.MoCoGAN, rows: int, per_row: int, seed: int = 0) -> dict[str, Tensor]:
    """Videos for the swap test: rows that share one code while the other is redrawn.

    Returns:
        ``"fixed_content"``: (rows, per_row, C, T, H, W) in [0, 1], one z_C per row, a new motion per
        video; ``"fixed_motion"``: the same layout, one motion path z_M(1..T) per row, a new z_C per video.
    """
    gen, g = model.generator_ema, rng(seed)
    contents, motions = gen.sample_content(rows, g), gen.sample_motion(rows, g)
    def row(r: int, **shared: Tensor) -> Tensor:  # per_row videos that share one code, row r's own seed
        return mocogan.sample(model, per_row, seed=seed + 1 + r, **shared)

    return {"fixed_content": torch.stack([row(r, content=z) for r, z in enumerate(contents)]),
            "fixed_motion": torch.stack([row(r, motion=z) for r, z in enumerate(motions)])}


def blend_content(model: mocogan.MoCoGAN, z_from: Tensor, z_to: Tensor, alphas: list[float] | Tensor,
                  motion: Tensor) -> Tensor:
    """Videos along the straight line from one content code to another, all with the same motion:
    the content half of the decomposition, walked slowly.

    Args:
        z_from, z_to: (dim_content,) the two content codes.
        alphas: (K,) blend weights; 0 gives ``z_from``, 1 gives ``z_to``.
        motion: (T, dim_motion) the shared motion codes z_M(1..T).
    Returns:
        (K, C, T, H, W) in [0, 1].
    """
    alphas = torch.as_tensor(alphas, dtype=z_from.dtype, device=z_from.device)[:, None]
    return mocogan.sample(model, len(alphas), content=(1 - alphas) * z_from + alphas * z_to, motion=motion)


def label_agreement(labels: Tensor) -> float:
    """How often two videos of the same row get the same label: the share of equal pairs within rows.

    Args:
        labels: (R, K) integer labels, K >= 2 videos per row.
    Returns:
        A number in [0, 1]: 1 if every row is constant, about 1 / (number of classes) for random labels.
    """
    r, k = labels.shape
    same = labels[:, :, None] == labels[:, None, :]  # (R, K, K), the diagonal pairs a video with itself
    return float((same.sum() - r * k) / (r * k * (k - 1)))


@torch.no_grad()
def decomposition_scores(model: mocogan.MoCoGAN, rows: int = 32, per_row: int = 8,
                         seed: int = 0) -> dict[str, float]:
    """Does identity follow z_C and the motion follow z_M? Label agreement within the rows of
    :func:`decomposition_grids`, as the course's feature network names each video's digit and its
    axis of motion (horizontal or vertical).

    Returns:
        ``"<head>_agreement/<grid>"`` for head ``digit`` and ``axis``, grid ``fixed_content`` and
        ``fixed_motion``, rounded to 4 decimals.
    """
    net = features.load_features()
    scores = {}
    for grid_name, grid in decomposition_grids(model, rows, per_row, seed).items():
        out = net(rearrange(grid, "r k c t h w -> (r k) c t h w").to(model_device(net)))
        for head in HEADS:
            labels = rearrange(out[head].argmax(dim=1).cpu(), "(r k) -> r k", r=rows)
            scores[f"{head}_agreement/{grid_name}"] = round(label_agreement(labels), 4)
    return scores


def evaluate(model: mocogan.MoCoGAN, n: int, *, seed: int = 0) -> dict[str, float]:
    """The model card's scores: ``generator_scores`` of ``n`` samples (rows ``mocogan``, ``real``,
    ``static``, ``shuffled``, ``noise``) and :func:`decomposition_scores` (32 rows of 8 videos).

    The distances are against ``n`` held-out (test) clips; the baselines are built from ``n`` training
    clips. Needs the shipped feature network (``data/checkpoints/video_features.pt``).
    """
    if n < 1:
        raise ValueError(f"n must be a positive number of clips, got {n}.")
    samples = mocogan.sample(model, n, seed=seed)
    others = real_videos(model.config, n, "train")
    scores = generator_scores(samples, real_videos(model.config, n), others, name="mocogan", seed=seed)
    return {**scores, **decomposition_scores(model, seed=seed)}

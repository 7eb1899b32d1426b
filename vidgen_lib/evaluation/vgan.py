"""VGAN's measurements (``vgan`` and ``vgan_one_stream``): the model card's scores and the background.

The scores are :func:`~vidgen_lib.evaluation.protocols.generator_scores`, the protocol of every
generator's card; what is VGAN's own is :func:`background_stats`, the property the two-stream
generator builds in (Vondrick et al. 2016, Sec. 3.2): a background that is dark and does not move.
Taught in ``notebooks/02_vgan.ipynb``.
"""
from __future__ import annotations

import math

from torch import Tensor

from vidgen_lib.datasets import video_batch
from vidgen_lib.evaluation.protocols import generator_scores
from vidgen_lib.models import vgan
from vidgen_lib.models.vgan import VGAN


def background_stats(videos: Tensor, threshold: float = 0.25) -> dict[str, float]:
    """How dark and how still the background of clips is: the property the two streams build in.

    Background pixels are those that stay below ``threshold`` in every frame (nothing bright ever
    passes there). Returns their mean value (``level``) and their mean change between consecutive
    frames (``flicker``); both are exactly 0 for real moving digits, NaN where no pixel qualifies.

    Args:
        videos: ``(N, C, T, H, W)`` in [0, 1].
    """
    still = (videos.amax(dim=2, keepdim=True) < threshold).expand_as(videos)  # (N, C, T, H, W)
    change = (videos[:, :, 1:] - videos[:, :, :-1]).abs()  # (N, C, T - 1, H, W)
    return {"level": videos[still].mean().item(), "flicker": change[still[:, :, 1:]].mean().item()}


def evaluate(model: VGAN, n: int, *, seed: int = 0) -> dict[str, float]:
    """The model card's numbers: ``generator_scores`` of ``n`` samples against ``n`` test clips, next to
    the baselines built from ``n`` other (train split) clips, plus the samples' background.

    Keys: ``<score>/<row>`` with the row ``vgan`` (or ``vgan_one_stream`` for a one-stream model),
    ``real``, ``static``, ``shuffled`` or ``noise`` (see ``generator_scores``); ``eval_videos``;
    ``background_level`` and ``background_flicker`` (:func:`background_stats`). Every distance
    depends on N: compare only numbers with the same ``n``.
    """
    if n < 1:
        raise ValueError(f"n must be a positive number of clips, got {n}.")
    config = model.config
    reference = video_batch(vgan.dataset(config, "test", n), n)
    others = video_batch(vgan.dataset(config, "train", n), n)
    samples = vgan.sample(model, n, seed=seed)
    name = "vgan" if config.two_stream else "vgan_one_stream"
    background = {f"background_{k}": round(v, 4) for k, v in background_stats(samples).items()
                  if math.isfinite(v)}  # no dark, still pixel at all (an untrained model): nothing to report
    return {**generator_scores(samples, reference, others, name=name, seed=seed), **background}

"""The sound-to-video model's measurements: does the predicted ball go where the sound says?

The ball of each predicted frame is found by its intensity-weighted centroid (``centroids``) and compared
with the true ball centre, in pixels, averaged over the future frames. The model card records that error
for the model given the real audio, the same model given silence and given another clip's audio
(``shuffled_audio``, no clip keeps its own), and for copy-last-frame; and the PSNR of each. The sound
drives the motion when the error under the real audio is far below both controls. Taught in
``notebooks/12_applications.ipynb``.
"""
from __future__ import annotations

import torch
from torch import Tensor
from torch.utils.data import default_collate

from vidgen_lib.datasets.sounds import shuffled_audio, silence_like
from vidgen_lib.evaluation.applications import centroids as frame_centres
from vidgen_lib.metrics import copy_last_frame, psnr
from vidgen_lib.models import sound_to_video as s2v
from vidgen_lib.runtime import rng


def centroids(video: Tensor) -> Tensor:
    """The centre of the ball in every frame, (B, T, 2) as (y, x) in pixels: the intensity-weighted centre
    of :func:`vidgen_lib.evaluation.applications.centroids`, except that a black frame, which has none,
    gets the frame's centre, so a vanished ball still costs an error. ``video`` (B, C, T, H, W) in [0, 1]."""
    found = frame_centres(video)  # NaN for a black frame
    middle = torch.tensor([(video.shape[3] - 1) / 2, (video.shape[4] - 1) / 2], dtype=found.dtype)
    return torch.where(found.isnan(), middle, found).to(video.dtype)


def predictions(model: s2v.SoundToVideo, n: int, seed: int = 0) -> dict[str, Tensor]:
    """The future of ``n`` >= 2 held-out clips, predicted four ways, and where the ball truly is.

    Returns:
        ``model``, ``silence``, ``shuffled``: the model given the clip's audio, silence, and another clip's
        audio (drawn with ``seed``); ``copy_last``: the last context frame repeated; (n, 1, horizon, H, W)
        in [0, 1] each. ``future``: the true frames, alike; ``centre_px``: the true ball centre in pixels,
        (n, horizon, 2).
    """
    if n < 2:
        raise ValueError(f"n must be at least 2 clips, so that clips can swap their audio; got {n}.")
    c = model.config
    data = s2v.dataset(c, "test", n)
    batch = default_collate([data[i] for i in range(n)])
    video, features = batch["video"], batch["audio_features"]
    context, future = video[:, :, : c.context], video[:, :, c.context:]
    world_to_px = c.frame_size / data.box_size  # pixel i covers world [i, i + 1) / world_to_px
    run = lambda audio: s2v.predict(model, context, c.horizon, audio_features=audio)  # noqa: E731
    return {"sound_to_video": run(features), "silence": run(silence_like(features)),
            "shuffled": run(shuffled_audio(features, rng(seed))),
            "copy_last": copy_last_frame(context, c.horizon),
            "future": future, "centre_px": batch["positions"][:, c.context:] * world_to_px - 0.5}


@torch.no_grad()
def evaluate(model: s2v.SoundToVideo, n: int, *, seed: int = 0) -> dict[str, float]:
    """The card's numbers on ``n`` test clips: ``position_error_px/<way>`` (the ball's centroid against its
    true centre, mean over frames and clips) and ``psnr/<way>`` (of the MSE pooled over the set) for the
    model given the real audio (``sound_to_video``), ``silence`` and ``shuffled`` audio, and for
    ``copy_last``."""
    out = predictions(model, n, seed)
    future, truth = out.pop("future"), out.pop("centre_px")
    metrics: dict[str, float] = {"eval_videos": n}
    for name, pred in out.items():
        metrics[f"position_error_px/{name}"] = round((centroids(pred) - truth).norm(dim=-1).mean().item(), 4)
        metrics[f"psnr/{name}"] = round(psnr(pred, future, reduction="pooled").item(), 4)
    return metrics


__all__ = ["centroids", "evaluate", "predictions"]

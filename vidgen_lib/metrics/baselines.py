"""Baselines and corruptions as videos, to be measured exactly like a model's samples or predictions.

Every number of the course sits next to a reference measured the same way: a real clip frozen on its
first frame (``static``), its frames in a random order (``shuffled``), noise, and for predictors the
last observed frame repeated (``copy_last_frame``). Videos are ``(N, C, T, H, W)`` in [0, 1].
"""
from __future__ import annotations

from typing import Sequence

import torch
from einops import repeat
from torch import Tensor

from vidgen_lib.video import validate_video

def static_baseline(real: Tensor) -> Tensor:
    """Each real video frozen on its first frame: perfect content, no motion.

    Args:
        real: ``(N, C, T, H, W)`` real videos.

    Returns:
        ``(N, C, T, H, W)``: frame 0 of each video repeated T times.
    """
    validate_video(real, "real")
    return repeat(real[:, :, 0], "n c h w -> n c t h w", t=real.shape[2]).clone()


def shuffled_baseline(real: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """Real videos with their frames in a random order (one permutation per video).

    Every frame is real, only the motion is wrong: a metric that does not move under this
    baseline cannot see time.

    Args:
        real: ``(N, C, T, H, W)`` real videos.
        generator: random generator, for a repeatable shuffle.

    Returns:
        ``(N, C, T, H, W)`` shuffled videos.
    """
    validate_video(real, "real")
    t = real.shape[2]
    return torch.stack([video[:, torch.randperm(t, generator=generator)] for video in real])


def noise_baseline(like: Tensor | Sequence[int], generator: torch.Generator | None = None) -> Tensor:
    """Uniform noise videos in [0, 1]: the worst sensible "model".

    Args:
        like: a video ``(N, C, T, H, W)`` whose shape, dtype and device to copy, or a shape.
        generator: random generator (CPU), for repeatable noise.

    Returns:
        ``(N, C, T, H, W)`` noise, i.i.d. uniform in [0, 1).
    """
    if isinstance(like, Tensor):
        validate_video(like, "like")
        return torch.rand(like.shape, generator=generator, dtype=like.dtype).to(like.device)
    shape = tuple(like)
    if len(shape) != 5:
        raise ValueError(f"noise_baseline needs a video shape (N, C, T, H, W); got {shape}.")
    return torch.rand(shape, generator=generator)


def copy_last_frame(context: Tensor, horizon: int) -> Tensor:
    """The prediction baseline: repeat the last observed frame for every future step.

    Args:
        context: ``(N, C, T_ctx, H, W)`` observed frames.
        horizon: number of frames to predict, >= 1.

    Returns:
        ``(N, C, horizon, H, W)``: frame ``T_ctx - 1`` of each video, ``horizon`` times.
    """
    validate_video(context, "context")
    if horizon < 1:
        raise ValueError(f"horizon must be >= 1; got {horizon}.")
    return repeat(context[:, :, -1], "n c h w -> n c t h w", t=horizon).clone()


def add_noise(video: Tensor, std: float, generator: torch.Generator | None = None) -> Tensor:
    """Corrupt videos with Gaussian pixel noise, clamped back to [0, 1].

    Args:
        video: ``(N, C, T, H, W)`` videos.
        std: standard deviation of the noise, >= 0 (0 returns a copy).
        generator: random generator (CPU), for repeatable noise.

    Returns:
        ``(N, C, T, H, W)`` noisy videos in [0, 1].
    """
    validate_video(video, "video")
    if std < 0:
        raise ValueError(f"std must be >= 0; got {std}.")
    noise = torch.randn(video.shape, generator=generator, dtype=video.dtype).to(video.device)
    return (video + std * noise).clamp(0.0, 1.0)


def shuffle_frames(video: Tensor, fraction: float, generator: torch.Generator | None = None) -> Tensor:
    """Corrupt the order of time: move a given fraction of frame positions, per video.

    In each video, k = round(fraction · T) positions are drawn at random and their frames rotated
    among them (a random cycle), so every drawn position receives a different frame while the
    others stay in place. Moving a single frame is impossible, so any fraction > 0 moves at least
    2 positions. ``fraction=0`` returns the videos unchanged; ``fraction=1`` moves every frame.

    Args:
        video: ``(N, C, T, H, W)`` videos.
        fraction: share of frame positions to move, in [0, 1].
        generator: random generator, for repeatable corruption.

    Returns:
        ``(N, C, T, H, W)`` videos with shuffled frames.
    """
    validate_video(video, "video")
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"fraction must be in [0, 1]; got {fraction}.")
    t = video.shape[2]
    k = round(fraction * t)
    if fraction > 0:
        k = max(k, 2)
    out = video.clone()
    if k < 2 or t < 2:
        return out
    for i in range(video.shape[0]):
        chosen = torch.randperm(t, generator=generator)[:k]  # k positions, in random order
        out[i][:, chosen] = video[i][:, chosen.roll(1)]  # position chosen[j] gets frame chosen[j-1]
    return out


def baseline_videos(real: Tensor, generator: torch.Generator | None = None) -> dict[str, Tensor]:
    """The generation baselines built from real videos, by name: static, shuffled and noise.

    Args:
        real: ``(N, C, T, H, W)`` real videos (use other videos than the reference set).
        generator: random generator, for a repeatable shuffle and noise.

    Returns:
        ``{"static": ..., "shuffled": ..., "noise": ...}``, each ``(N, C, T, H, W)``.
    """
    return {
        "static": static_baseline(real),
        "shuffled": shuffled_baseline(real, generator=generator),
        "noise": noise_baseline(real, generator=generator),
    }


def frame_differences(videos: Tensor) -> Tensor:
    """``|x_{t+1} − x_t|``: what changed between consecutive frames, as a clip ``(N, C, T − 1, H, W)``
    in [0, 1].

    A clip frozen on one frame has all-black differences; a digit moving smoothly leaves two thin
    crescents that move with it; frames in a random order leave whole digits flashing.
    """
    validate_video(videos, "videos")
    return (videos[:, :, 1:] - videos[:, :, :-1]).abs()

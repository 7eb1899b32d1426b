"""What a video is in this course, checked in one place: ``(B, C, T, H, W)`` floats in [0, 1].

Every public function of the library takes and returns videos in this form; networks that work in
[-1, 1] convert at their boundary with :func:`to_signed` and :func:`from_signed`, and networks that
see one frame at a time fold time into the batch with :func:`fold_time` and :func:`unfold_time`.
This module imports nothing of the library.
"""
from __future__ import annotations

import torch
from einops import rearrange
from torch import Tensor

RANGE_TOLERANCE = 1e-6

def validate_video(x: Tensor, name: str = "video") -> None:
    """Check that ``x`` is a video as the course defines it, or raise a helpful ``ValueError``.

    Args:
        x: the tensor to check; expected ``(N, C, T, H, W)``, floating point, values in [0, 1]
            (up to a tolerance of 1e-6 for round-off).
        name: what to call ``x`` in the error message (e.g. ``"real_videos"``).

    Raises:
        ValueError: if ``x`` is not a tensor, has the wrong number of dimensions, an integer or
            boolean dtype, is empty, holds NaN/inf, or has values outside [0, 1].
    """
    expected = "a float tensor of shape (N, C, T, H, W) with values in [0, 1]"
    if not isinstance(x, Tensor):
        raise ValueError(f"{name} must be {expected}; got a {type(x).__name__}.")
    if x.ndim != 5:
        raise ValueError(f"{name} must be {expected}; got {x.ndim} dimensions, shape {tuple(x.shape)}.")
    if not x.is_floating_point():
        raise ValueError(
            f"{name} must be {expected}; got dtype {x.dtype}. "
            "Convert uint8 frames with x.float() / 255."
        )
    if x.numel() == 0:
        raise ValueError(f"{name} must be {expected}; got an empty tensor of shape {tuple(x.shape)}.")
    if not torch.isfinite(x).all():
        raise ValueError(f"{name} must be {expected}; it contains NaN or inf.")
    low, high = x.min().item(), x.max().item()
    if low < -RANGE_TOLERANCE or high > 1 + RANGE_TOLERANCE:
        hint = ""
        if low >= -1 - RANGE_TOLERANCE and high <= 1 + RANGE_TOLERANCE:
            hint = " It looks like [-1, 1]: convert with (x + 1) / 2."
        raise ValueError(f"{name} must be {expected}; got values in [{low:.4g}, {high:.4g}].{hint}")


def to_signed(video: Tensor) -> Tensor:
    """Values in [0, 1] -> [-1, 1] (what tanh outputs and most networks read): ``2x - 1``."""
    return video * 2 - 1


def from_signed(video: Tensor) -> Tensor:
    """Values in [-1, 1] -> [0, 1]: ``(x + 1) / 2``, the inverse of :func:`to_signed`."""
    return (video + 1) / 2


def fold_time(video: Tensor) -> Tensor:
    """``(B, C, T, H, W)`` -> frames ``(B·T, C, H, W)``, so a 2-D network sees every frame at once."""
    return rearrange(video, "b c t h w -> (b t) c h w")


def unfold_time(frames: Tensor, batch: int) -> Tensor:
    """Frames ``(B·T, C, H, W)`` -> ``(B, C, T, H, W)``: the inverse of :func:`fold_time`."""
    return rearrange(frames, "(b t) c h w -> b c t h w", b=batch)

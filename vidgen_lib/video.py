"""What a video is in this course, checked in one place: ``(B, C, T, H, W)`` floats in [0, 1].

Every public function of the library takes and returns videos in this form; networks that work in
[-1, 1] convert at their boundary with :func:`to_signed` and :func:`from_signed`, and networks that
see one frame at a time fold time into the batch with :func:`fold_time` and :func:`unfold_time`.
:func:`validate_clip` also checks a model's channels and frame size, and :func:`quantize` maps values to
the integer levels a likelihood model predicts. This module imports nothing of the library.
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


def validate_clip(x: Tensor, *, channels: int, frame_size: int, name: str = "video") -> None:
    """:func:`validate_video`, and ``x`` has the ``channels`` and square frames of ``frame_size`` that a
    model was built for; raises a ``ValueError`` that names what was expected."""
    validate_video(x, name)
    if x.shape[1] != channels:
        kind = "grey" if channels == 1 else f"{channels} channels"
        raise ValueError(f"{name} must be {kind}, (B, {channels}, T, H, W); got {x.shape[1]} channels.")
    if tuple(x.shape[-2:]) != (frame_size, frame_size):
        raise ValueError(f"{name} must have {frame_size}x{frame_size} frames (the model's frame_size), "
                         f"got {x.shape[-2]}x{x.shape[-1]}.")


def quantize(video: Tensor, levels: int) -> Tensor:
    """Intensities in [0, 1] -> integers in [0, levels): k = round(x * (levels - 1)). Same shape, int64."""
    if levels < 2:
        raise ValueError(f"levels must be >= 2, got {levels}.")
    if not video.is_floating_point():
        raise ValueError(f"quantize expects float intensities in [0, 1], got dtype {video.dtype}.")
    if video.numel() and (video.min() < -RANGE_TOLERANCE or video.max() > 1 + RANGE_TOLERANCE):
        raise ValueError(f"quantize expects values in [0, 1], got [{video.min():.4g}, {video.max():.4g}].")
    return torch.round(video.clamp(0, 1) * (levels - 1)).long()


def dequantize(codes: Tensor, levels: int) -> Tensor:
    """Integers in [0, levels) -> the intensities they stand for, k / (levels - 1) in [0, 1] (float32)."""
    if levels < 2:
        raise ValueError(f"levels must be >= 2, got {levels}.")
    if codes.is_floating_point():
        raise ValueError(f"dequantize expects integer codes, got dtype {codes.dtype}: quantize first.")
    if codes.numel() and (codes.min() < 0 or codes.max() >= levels):
        raise ValueError(f"codes must be in [0, {levels}), got [{int(codes.min())}, {int(codes.max())}].")
    return codes.float() / (levels - 1)

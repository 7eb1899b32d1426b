"""Per-frame fidelity of a prediction against the true future: PSNR and SSIM.

Wang, Bovik, Sheikh, Simoncelli, "Image Quality Assessment: From Error Visibility to Structural
Similarity", IEEE TIP 2004. Both take two videos of the same shape, ``(N, C, T, H, W)`` in [0, 1].
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from einops import rearrange, repeat
from torch import Tensor

from vidgen_lib.video import validate_video

def _check_pair(x: Tensor, y: Tensor) -> None:
    """Validate a (prediction, target) pair of videos of identical shape."""
    validate_video(x, "x")
    validate_video(y, "y")
    if x.shape != y.shape:
        raise ValueError(f"x {tuple(x.shape)} and y {tuple(y.shape)} must have the same shape.")


def _reduce(per_video: Tensor, reduction: str) -> Tensor:
    """Apply ``reduction`` ("mean" or "none") to a ``(N,)`` tensor of per-video scores."""
    if reduction == "mean":
        return per_video.mean()
    if reduction == "none":
        return per_video
    raise ValueError(f"reduction must be 'mean' or 'none'; got {reduction!r}.")


def psnr(x: Tensor, y: Tensor, data_range: float = 1.0, reduction: str = "mean") -> Tensor:
    """Peak signal-to-noise ratio, computed per frame and averaged over frames.

    PSNR = 10 log10(L² / MSE), with the MSE of one frame over its C, H, W values.
    A frame identical to its target has MSE = 0 and PSNR = +inf; a video containing such a frame
    then averages to +inf too (it is reported, not hidden). Higher is better.

    Args:
        x: ``(N, C, T, H, W)`` predicted videos in [0, 1].
        y: ``(N, C, T, H, W)`` target videos in [0, 1].
        data_range: L, the span of possible values (1.0 for [0, 1] videos).
        reduction: ``"mean"`` for one number over all videos, ``"none"`` for one per video, or
            ``"pooled"`` for one PSNR of the MSE over every value of the set: finite unless the
            two sets are identical, so it is what model cards (strict JSON) record.

    Returns:
        PSNR in dB: a 0-dim tensor (``"mean"``, ``"pooled"``) or ``(N,)`` (``"none"``), float64.
    """
    _check_pair(x, y)
    if reduction == "pooled":
        mse = ((x.double() - y.double()) ** 2).mean()
        return (10.0 * torch.log10(data_range**2 / mse) if mse > 0
                else torch.tensor(math.inf, dtype=torch.float64))
    mse = ((x.double() - y.double()) ** 2).mean(dim=(1, 3, 4))  # (N, T): one MSE per frame
    per_frame = torch.where(
        mse > 0, 10.0 * torch.log10(data_range**2 / mse), torch.full_like(mse, math.inf)
    )
    return _reduce(per_frame.mean(dim=1), reduction)


def _gaussian_window(window_size: int, sigma: float, channels: int, like: Tensor) -> Tensor:
    """A normalised 1-D Gaussian window, one copy per channel: ``(C, 1, window_size)``. The 2-D window is
    its outer product with itself, so filtering with it is a column pass then a row pass."""
    coords = torch.arange(window_size, dtype=like.dtype, device=like.device) - (window_size - 1) / 2
    g = torch.exp(-(coords**2) / (2 * sigma**2))
    return repeat(g / g.sum(), "k -> c 1 k", c=channels)


def ssim(
    x: Tensor,
    y: Tensor,
    window_size: int = 11,
    sigma: float = 1.5,
    data_range: float = 1.0,
    reduction: str = "mean",
) -> Tensor:
    """Structural similarity (Wang et al. 2004), per frame with a Gaussian window, then averaged.

    SSIM = ((2 μx μy + C1)(2 σxy + C2)) / ((μx² + μy² + C1)(σx² + σy² + C2))      (Eq. 13)
    with local means, variances and covariance from a Gaussian window (std ``sigma``), constants
    C1 = (0.01 L)², C2 = (0.03 L)², the window only at positions where it fits the frame ("valid"),
    and each channel filtered separately. 1 means identical; higher is better.

    Args:
        x: ``(N, C, T, H, W)`` predicted videos in [0, 1].
        y: ``(N, C, T, H, W)`` target videos in [0, 1].
        window_size: side of the Gaussian window; H and W must be at least this large.
        sigma: standard deviation of the window, in pixels.
        data_range: L, the span of possible values (1.0 for [0, 1] videos).
        reduction: ``"mean"`` for one number over all videos, ``"none"`` for one per video.

    Returns:
        SSIM: a 0-dim tensor (``"mean"``) or ``(N,)`` (``"none"``), each the mean over frames,
        float64.
    """
    _check_pair(x, y)
    n, c, t, h, w = x.shape
    if h < window_size or w < window_size:
        raise ValueError(
            f"ssim: frames of {h}x{w} are smaller than window_size={window_size}; pass a smaller window."
        )
    frames_x = rearrange(x.double(), "n c t h w -> (n t) c h w")
    frames_y = rearrange(y.double(), "n c t h w -> (n t) c h w")
    window = _gaussian_window(window_size, sigma, c, frames_x)

    def local_mean(z: Tensor) -> Tensor:  # Gaussian-weighted average around each pixel, per channel
        columns = F.conv2d(z, window[..., None], groups=c)  # (k, 1) kernels: along H
        return F.conv2d(columns, window[:, :, None], groups=c)  # (1, k) kernels: along W

    mu_x, mu_y = local_mean(frames_x), local_mean(frames_y)
    var_x = local_mean(frames_x * frames_x) - mu_x**2
    var_y = local_mean(frames_y * frames_y) - mu_y**2
    cov_xy = local_mean(frames_x * frames_y) - mu_x * mu_y
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    luminance_num, luminance_den = 2 * mu_x * mu_y + c1, mu_x**2 + mu_y**2 + c1
    structure_num, structure_den = 2 * cov_xy + c2, var_x + var_y + c2
    ssim_map = (luminance_num * structure_num) / (luminance_den * structure_den)  # (N*T, C, H', W')

    per_frame = rearrange(ssim_map.mean(dim=(1, 2, 3)), "(n t) -> n t", n=n)
    return _reduce(per_frame.mean(dim=1), reduction)

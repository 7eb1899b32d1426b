"""VPN's measurements (``vpn`` and ``vpn_independent``): nats per frame beside its two reference points.

Kalchbrenner et al., "Video Pixel Networks", ICML 2017, Sec. 5 and Table 1 report the exact negative
log-likelihood of the scored frames in nats per frame. A number alone says little, so the model card
puts it between the *uniform* bound (every model must beat it) and *copy-last-frame* read as a
likelihood; :func:`receptive_field` shows, by gradients, what a prediction can depend on (the masks
and time causality). :func:`log_likelihood` sums the model's exact per-pixel terms
(:func:`vidgen_lib.models.vpn.pixel_nll`) over held-out videos.
Taught in ``notebooks/08_vpn.ipynb``.
"""
from __future__ import annotations

import math

import torch
from torch import Tensor

from vidgen_lib.metrics import bits_per_dim, nats_per_frame
from vidgen_lib.models.vpn import VPN, pixel_nll, quantize, test_videos
from vidgen_lib.runtime import eval_mode, model_device
from vidgen_lib.video import validate_video

__all__ = ["PAPER_NATS_PER_FRAME", "copy_last_nats_per_frame", "evaluate", "log_likelihood",
           "nll_nats_per_frame", "receptive_field", "uniform_nats_per_frame"]

PAPER_NATS_PER_FRAME = {"vpn": 87.6, "baseline": 110.1, "lower_bound": 86.3}  # Moving MNIST, Table 1


def log_likelihood(model: VPN, video: Tensor, context: int = 1, batch_size: int = 64) -> Tensor:
    """Exact log p(x_{context:T} | x_{<context}) of each video in nats: (B,), summed over pixels and frames.

    Args:
        video: (B, 1, T, H, W) in [0, 1], quantised to ``model.config.levels`` inside.
        context: frames given; frames context..T-1 are scored.
    Raises:
        ValueError: a video that is not grey, of the model's frame size and in [0, 1], or a context
            outside [1, T - 1] (``pixel_nll`` checks each batch).
    """
    dev = model_device(model)
    with eval_mode(model):
        out = [-pixel_nll(model, chunk.to(dev), context).sum(dim=(1, 2, 3)).cpu()
               for chunk in video.split(batch_size)]
    return torch.cat(out)


def nll_nats_per_frame(model: VPN, video: Tensor, context: int = 1) -> float:
    """NLL in nats per scored frame: -sum log p / (B * (T - context)) (Sec. 5, Table 1)."""
    ll = log_likelihood(model, video, context)
    return float(nats_per_frame(-ll.sum(), video.shape[0] * (video.shape[2] - context)))



def uniform_nats_per_frame(frame_size: int, levels: int) -> float:
    """The bound every model must beat: a uniform categorical costs H * W * ln(levels) nats per frame."""
    return frame_size * frame_size * math.log(levels)


def copy_last_nats_per_frame(video: Tensor, levels: int, context: int = 1,
                             eps: float | None = None) -> tuple[float, float]:
    """Copy-last-frame as a likelihood: each pixel keeps its value in the frame before with prob 1 - eps.

    p(x_{t,i,j} = x_{t-1,i,j}) = 1 - eps, and eps / (levels - 1) for each other value. The frame before is
    the true one (as the models get it). ``eps=None`` picks the best eps for these very videos (the
    fraction of pixels that change), which flatters the baseline: no model gets to tune on the test set.

    Args:
        video: (B, 1, T, H, W) in [0, 1]; frames context..T-1 are scored.
    Returns:
        (nats per scored frame, the eps used).
    """
    validate_video(video)
    if not 1 <= context < video.shape[2]:
        raise ValueError(f"context must be in [1, T - 1], got {context} for {video.shape[2]} frames.")
    codes = quantize(video, levels)[:, 0]
    changed = (codes[:, context:] != codes[:, context - 1:-1]).double()
    if eps is None:
        eps = float(changed.mean())
    eps = min(max(eps, 1e-6), 1 - 1e-6)
    nll = changed * -math.log(eps / (levels - 1)) + (1 - changed) * -math.log(1 - eps)
    return float(nll.sum() / (codes.shape[0] * (codes.shape[1] - context))), eps


def evaluate(model: VPN, n: int, *, seed: int = 0) -> dict[str, float]:
    """The model card's numbers: nats per scored frame on the first ``n`` test videos (frames
    ``context``..T-1 given the earlier ones).

    Keys: ``nats_per_frame/<row>`` and ``bits_per_dim/<row>`` with the row ``vpn`` (or
    ``vpn_independent`` for the baseline); ``nats_per_frame/copy_last`` (with its best eps, chosen on
    these videos: ``copy_last_eps``) and ``nats_per_frame/uniform``, H * W * ln(levels); and what was
    measured: ``eval_videos``, ``eval_context``, ``eval_scored_frames``, ``levels``. The likelihood is
    exact and the test videos are fixed, so ``seed`` changes nothing (it keeps the common signature).
    """
    if n < 1:
        raise ValueError(f"n must be a positive number of videos, got {n}.")
    c = model.config
    videos = test_videos(c, n)
    name = "vpn_independent" if c.independent_pixels else "vpn"
    ours = nll_nats_per_frame(model, videos, c.context)
    copy_last, eps = copy_last_nats_per_frame(videos, c.levels, c.context)
    size = videos.shape[-1]
    return {f"nats_per_frame/{name}": round(ours, 4), "nats_per_frame/copy_last": round(copy_last, 4),
            "nats_per_frame/uniform": round(uniform_nats_per_frame(size, c.levels), 4),
            f"bits_per_dim/{name}": round(float(bits_per_dim(ours, size * size)), 4),
            "copy_last_eps": round(eps, 6), "eval_videos": n, "eval_context": c.context,
            "eval_scored_frames": videos.shape[2] - c.context, "levels": c.levels}


def receptive_field(model: VPN, t: int, i: int, j: int, *, num_frames: int | None = None,
                    frame_size: int | None = None, seed: int = 0) -> Tensor:
    """Which input pixels the logits of pixel (i, j) in frame t depend on, measured by gradients.

    A random video goes in; the gradient of a fixed random projection of logits[:, :, t, i, j] with
    respect to every input pixel comes out. Zero means "cannot influence" (masks, time causality).

    Args:
        t: the frame, 1 <= t < num_frames; (i, j): the pixel.
        num_frames, frame_size: of the probe video (default: ``t + 2`` frames, the config's frame size).
    Returns:
        |gradient| of shape (num_frames, H, W), on the CPU.
    """
    c = model.config
    num_frames = num_frames or t + 2
    size = frame_size or c.frame_size
    if not 1 <= t < num_frames or not (0 <= i < size and 0 <= j < size):
        raise ValueError(f"need 1 <= t < {num_frames} and 0 <= i, j < {size}; got t={t}, (i, j)=({i}, {j}).")
    g, dev = torch.Generator().manual_seed(seed), model_device(model)
    video = torch.rand(1, 1, num_frames, size, size, generator=g).to(dev).requires_grad_(True)
    projection = torch.randn(c.levels, generator=g).to(dev)
    logits = model(video, first=t)[0, :, 0, i, j]  # (levels,)
    (grad,) = torch.autograd.grad((logits * projection).sum(), video)
    return grad[0, 0].abs().cpu()

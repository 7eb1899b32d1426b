"""Backward warping of images by an optical flow field, with bilinear sampling.

``warp(image, flow)[p] = image[p + flow(p)]`` for every pixel p: each output pixel fetches its value from
where the flow says it came from (Jaderberg et al., "Spatial Transformer Networks", NeurIPS 2015, give
the differentiable bilinear sampler; ``torch.nn.functional.grid_sample`` does the work). A flow of
whole pixels copies values exactly; a fractional flow blends the four nearest pixels, so the warp is
differentiable in both the image and the flow.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def pixel_grid(height: int, width: int, like: Tensor) -> Tensor:
    """The coordinates ``(x, y)`` of every pixel: ``(1, 2, H, W)``, on ``like``'s device and dtype."""
    ys, xs = torch.meshgrid(torch.arange(height, device=like.device, dtype=like.dtype),
                            torch.arange(width, device=like.device, dtype=like.dtype), indexing="ij")
    return torch.stack([xs, ys])[None]


def warp(image: Tensor, flow: Tensor) -> Tensor:
    """Backward-warp ``image`` by ``flow``: output pixel p takes the (bilinear) value at p + flow(p).

    Args:
        image: ``(N, C, H, W)``.
        flow: ``(N, 2, H, W)`` in pixels, channel 0 the horizontal shift dx, channel 1 the vertical dy.
    Returns:
        ``(N, C, H, W)``; a sample that falls outside the image takes the nearest border pixel.
    """
    if image.ndim != 4 or flow.ndim != 4 or flow.shape[1] != 2 or flow.shape[0] != image.shape[0] \
            or flow.shape[2:] != image.shape[2:]:
        raise ValueError(f"warp needs image (N, C, H, W) and flow (N, 2, H, W) of the same N, H, W; "
                         f"got image {tuple(image.shape)} and flow {tuple(flow.shape)}.")
    height, width = image.shape[2:]
    where = pixel_grid(height, width, flow) + flow  # (N, 2, H, W): the source of each pixel, in pixels
    scale = flow.new_tensor([2 / max(width - 1, 1), 2 / max(height - 1, 1)])
    grid = (where * scale[None, :, None, None] - 1).permute(0, 2, 3, 1)  # grid_sample's [-1, 1], (N, H, W, 2)
    return F.grid_sample(image, grid, mode="bilinear", padding_mode="border", align_corners=True)

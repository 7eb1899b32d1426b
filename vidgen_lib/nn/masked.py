"""PixelCNN's causal masks: a convolution that lets pixel (i, j) see only the pixels before it.

van den Oord, Kalchbrenner, Kavukcuoglu, "Pixel Recurrent Neural Networks", ICML 2016, Sec. 3.5;
used by the Video Pixel Network's decoder (Kalchbrenner et al., ICML 2017, Sec. 3.2).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


def causal_mask(kernel_size: int, mask_type: str) -> Tensor:
    """The k x k mask of a PixelCNN convolution in raster order.

    Rows above the centre: all 1. Centre row: 1 left of the centre; the centre itself is 1 for mask
    ``"B"`` (later layers: position (i, j) already holds features of pixels before it) and 0 for mask
    ``"A"`` (the first layer: it reads the pixel values, and pixel (i, j) must not see itself).
    Rows below and pixels right of the centre: 0. Returns a float (k, k) tensor.
    """
    if mask_type not in ("A", "B"):
        raise ValueError(f"mask_type must be 'A' or 'B', got {mask_type!r}.")
    if kernel_size < 1 or kernel_size % 2 == 0:
        raise ValueError(f"kernel_size must be odd and positive, got {kernel_size}.")
    c = kernel_size // 2
    mask = torch.zeros(kernel_size, kernel_size)
    mask[:c] = 1
    mask[c, : c + (mask_type == "B")] = 1
    return mask


class MaskedConv2d(nn.Conv2d):
    """A 'same' k x k convolution whose weights are multiplied by ``causal_mask(k, mask_type)``.

    (N, C_in, H, W) -> (N, C_out, H, W); output (i, j) depends only on inputs before (i, j) in raster
    order (and on (i, j) itself for mask B).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, mask_type: str) -> None:
        super().__init__(in_channels, out_channels, kernel_size, padding=kernel_size // 2)
        self.mask_type = mask_type
        self.register_buffer("mask", causal_mask(kernel_size, mask_type), persistent=False)

    def forward(self, x: Tensor) -> Tensor:
        return F.conv2d(x, self.weight * self.mask, self.bias, padding=self.padding)

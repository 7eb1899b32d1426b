"""Multiplicative units: the gated, resolution-preserving convolutions of the Video Pixel Network.

Kalchbrenner et al., "Video Pixel Networks", ICML 2017, Sec. 4. With ``mask_type`` the convolutions are
PixelCNN-masked (:mod:`vidgen_lib.nn.masked`), so a block stays causal in raster order; without it they
may be dilated. Every block maps ``(N, C, H, W)`` to the same shape.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

from vidgen_lib.nn.masked import MaskedConv2d


def dilated_or_masked_conv(in_channels: int, out_channels: int, kernel_size: int, dilation: int = 1,
          mask_type: str | None = None) -> nn.Conv2d:
    """A resolution-preserving conv: masked (PixelCNN) if ``mask_type`` is given, else dilated."""
    if mask_type is not None:
        return MaskedConv2d(in_channels, out_channels, kernel_size, mask_type)
    padding = dilation * (kernel_size // 2)
    return nn.Conv2d(in_channels, out_channels, kernel_size, padding=padding, dilation=dilation)


class MultiplicativeUnit(nn.Module):
    """MU(h) = g1 * tanh(g2 * h + g3 * u), g_k = sigmoid(W_k * h), u = tanh(W_4 * h)   (Sec. 4.1).

    The four convolutions are one conv with 4x the output channels. ``mask_type="B"`` makes it a
    masked MU for the decoder: the gates of pixel (i, j) read only (i, j) and the pixels before it.
    (N, C, H, W) -> (N, C, H, W).
    """

    def __init__(self, channels: int, kernel_size: int = 3, dilation: int = 1,
                 mask_type: str | None = None) -> None:
        super().__init__()
        self.conv = dilated_or_masked_conv(channels, 4 * channels, kernel_size, dilation, mask_type)

    def forward(self, h: Tensor) -> Tensor:
        g1, g2, g3, u = self.conv(h).chunk(4, dim=1)
        return torch.sigmoid(g1) * torch.tanh(torch.sigmoid(g2) * h + torch.sigmoid(g3) * torch.tanh(u))


class ResidualMultiplicativeBlock(nn.Module):
    """1x1 conv 2c -> c, two MUs, 1x1 conv c -> 2c, plus the input (Sec. 4.2); dilated in the encoder
    (Sec. 4.3). (N, 2c, H, W) -> (N, 2c, H, W). 1x1 convolutions are pointwise, so masking the MUs keeps
    the block causal.
    """

    def __init__(self, channels: int, kernel_size: int = 3, dilation: int = 1,
                 mask_type: str | None = None) -> None:
        super().__init__()
        inner = channels // 2
        self.reduce = nn.Conv2d(channels, inner, 1)
        self.mu1 = MultiplicativeUnit(inner, kernel_size, dilation, mask_type)
        self.mu2 = MultiplicativeUnit(inner, kernel_size, dilation, mask_type)
        self.expand = nn.Conv2d(inner, channels, 1)

    def forward(self, h: Tensor) -> Tensor:
        return h + self.expand(self.mu2(self.mu1(self.reduce(h))))

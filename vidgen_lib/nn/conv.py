"""Convolution + normalisation + activation, the layer every image and video network here is made of.

``conv_block`` returns the three modules as an ``nn.Sequential``; unpack it (``*conv_block(...)``)
inside a larger ``nn.Sequential`` to keep one flat list of layers. The shapes follow the DCGAN
convention (Radford et al., ICLR 2016): kernel 4, stride 2, padding 1 doubles (transposed) or halves
(plain) every spatial or temporal axis.
"""
from __future__ import annotations

import torch
from torch import nn

_CONV = {(2, False): nn.Conv2d, (3, False): nn.Conv3d,
         (2, True): nn.ConvTranspose2d, (3, True): nn.ConvTranspose3d}


def norm_layer(kind: str, channels: int, dims: int) -> nn.Module:
    """``"batch"`` (BatchNorm), ``"group"`` (GroupNorm, 8 groups) or ``"none"`` for ``channels`` channels."""
    if kind == "batch":
        return (nn.BatchNorm3d if dims == 3 else nn.BatchNorm2d)(channels)
    if kind == "group":
        return nn.GroupNorm(8, channels)
    if kind == "none":
        return nn.Identity()
    raise ValueError(f"norm must be 'batch', 'group' or 'none', got {kind!r}.")


def activation(kind: str) -> nn.Module:
    """``"relu"``, ``"lrelu"`` (LeakyReLU, slope 0.2, as in DCGAN's discriminator) or ``"tanh"``."""
    layers = {"relu": nn.ReLU, "lrelu": lambda: nn.LeakyReLU(0.2), "tanh": nn.Tanh}
    if kind not in layers:
        raise ValueError(f"activation must be one of {sorted(layers)}, got {kind!r}.")
    return layers[kind]()


def conv_block(c_in: int, c_out: int, *, dims: int = 2, transpose: bool = False, kernel=4, stride=2,
               padding=1, norm: str = "batch", act: str = "relu", bias: bool | None = None) -> nn.Sequential:
    """A (transposed) 2-D or 3-D convolution, a normalisation and an activation.

    ``bias`` defaults to False when a normalisation follows (it would cancel the bias) and True otherwise.
    With the defaults (kernel 4, stride 2, padding 1) a transposed block doubles every axis of
    ``(B, c_in, [T,] H, W)`` and a plain one halves it.
    """
    if dims not in (2, 3):
        raise ValueError(f"dims must be 2 or 3, got {dims}.")
    bias = norm == "none" if bias is None else bias
    conv = _CONV[dims, transpose](c_in, c_out, kernel, stride, padding, bias=bias)
    return nn.Sequential(conv, norm_layer(norm, c_out, dims), activation(act))


def up_block(c_in: int, c_out: int, dims: int = 2) -> nn.Sequential:
    """DCGAN's generator layer: a transposed conv that doubles every axis, BatchNorm, ReLU."""
    return conv_block(c_in, c_out, dims=dims, transpose=True)


@torch.no_grad()
def normal_init(module: nn.Module, std: float = 0.02) -> None:
    """DCGAN's initialisation, for ``module.apply``: conv weights N(0, std²), BatchNorm scales N(1, 0.02²),
    biases 0 (Radford et al. 2016, Sec. 4: std 0.02; VGAN, Sec. 3.4: std 0.01)."""
    if isinstance(module, (nn.Conv2d, nn.Conv3d, nn.ConvTranspose2d, nn.ConvTranspose3d)):
        nn.init.normal_(module.weight, 0.0, std)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, (nn.BatchNorm2d, nn.BatchNorm3d)):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


@torch.no_grad()
def bilinear_init(module: nn.Module) -> None:
    """Start every doubling transposed conv as bilinear up-sampling of randomly mixed channels.

    A transposed conv with kernel 4 and stride 2 draws even and odd output positions with different
    kernel taps, so random weights start with checkerboard patterns in space *and* flicker in time
    (Odena, Dumoulin, Olah, "Deconvolution and Checkerboard Artifacts", Distill 2016). Here the
    weight starts as ``mix[c_in, c_out] · k(t) k(h) k(w)`` with ``k = [1, 3, 3, 1] / 4`` (bilinear
    up-sampling), plus a little noise: the same layer, a smooth start.
    """
    if isinstance(module, (nn.ConvTranspose2d, nn.ConvTranspose3d)) and module.stride[0] == 2:
        taps = torch.tensor([1.0, 3.0, 3.0, 1.0]) / 4
        kernel = taps
        for _ in range(module.weight.ndim - 3):
            kernel = kernel[..., None] * taps  # outer product: (4,), (4, 4), (4, 4, 4)
        mix = torch.randn(module.weight.shape[:2]) * 0.01
        module.weight.copy_(mix.view(*mix.shape, *[1] * kernel.ndim) * kernel)
        module.weight.add_(torch.randn_like(module.weight) * 0.001)

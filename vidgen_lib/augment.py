"""Differentiable augmentation for GAN discriminators (DiffAugment) on clips and frames.

Zhao, Liu, Lin, Zhu, Han, "Differentiable Augmentation for Data-Efficient GAN Training", NeurIPS 2020.
The discriminator judges augmented clips, real *and* generated alike, and the augmentation is built
from differentiable operations (padding, indexing, masking), so the generator's gradient flows back
through it. D can no longer win by memorising details of the real data; the generator is still
asked for the un-augmented distribution, because the same random transform hits both sets.

For video, one transform is drawn per clip and applied to all of its frames: a shift that moved
every frame differently would add motion the real data does not have, and D would learn it.
"""
from __future__ import annotations

import torch
from torch import Tensor

POLICIES = ("translation", "cutout")


def parse_policy(policy: str) -> tuple[str, ...]:
    """``"translation,cutout"`` → ``("translation", "cutout")``; ``""`` → ``()``; unknown names raise."""
    names = tuple(name.strip() for name in policy.split(",") if name.strip())
    unknown = [name for name in names if name not in POLICIES]
    if unknown:
        raise ValueError(f"Unknown augmentation {unknown[0]!r} in {policy!r}: "
                         f"use a comma-separated subset of {POLICIES}.")
    return names


def translate(x: Tensor, ratio: float = 0.125, fill: float = 0.0,
              generator: torch.Generator | None = None) -> Tensor:
    """Shift every sample by a random whole number of pixels in ``[-ratio·size, ratio·size]``.

    Pixels shifted in from outside the frame take the value ``fill`` (the background).

    Args:
        x: clips ``(B, C, T, H, W)`` or frames ``(B, C, H, W)``; one shift per sample.
    Returns:
        the same shape; differentiable with respect to ``x``.
    """
    b, (h, w) = x.shape[0], x.shape[-2:]
    pad_h, pad_w = max(1, int(h * ratio)), max(1, int(w * ratio))
    dy = torch.randint(-pad_h, pad_h + 1, (b, 1), generator=generator).to(x.device)
    dx = torch.randint(-pad_w, pad_w + 1, (b, 1), generator=generator).to(x.device)
    padded = torch.nn.functional.pad(x, (pad_w, pad_w, pad_h, pad_h), value=fill)
    rows = torch.arange(h, device=x.device) + pad_h - dy  # (B, H): output row i reads padded row i + pad - dy
    cols = torch.arange(w, device=x.device) + pad_w - dx  # (B, W)
    lead = (1,) * (x.ndim - 3)  # the axes between batch and height: (C,) or (C, T)
    rows = rows.view(b, *lead, h, 1).expand(*padded.shape[:-2], h, padded.shape[-1])
    out = padded.gather(-2, rows)
    cols = cols.view(b, *lead, 1, w).expand(*out.shape[:-1], w)
    return out.gather(-1, cols)


def cutout(x: Tensor, ratio: float = 0.5, fill: float = 0.0,
           generator: torch.Generator | None = None) -> Tensor:
    """Set a random ``ratio·H × ratio·W`` square of every sample to ``fill`` (the same square in all frames).

    Args:
        x: clips ``(B, C, T, H, W)`` or frames ``(B, C, H, W)``.
    Returns:
        the same shape; differentiable with respect to ``x``.
    """
    b, (h, w) = x.shape[0], x.shape[-2:]
    size_h, size_w = int(h * ratio + 0.5), int(w * ratio + 0.5)
    top = torch.randint(0, h - size_h + 1, (b, 1, 1), generator=generator)
    left = torch.randint(0, w - size_w + 1, (b, 1, 1), generator=generator)
    ys, xs = torch.arange(h).view(1, h, 1), torch.arange(w).view(1, 1, w)
    hole = (ys >= top) & (ys < top + size_h) & (xs >= left) & (xs < left + size_w)  # (B, H, W)
    hole = hole.view(b, *(1,) * (x.ndim - 3), h, w).to(x.device)
    return torch.where(hole, torch.full_like(x, fill), x)


def diff_augment(x: Tensor, policy: str, fill: float = 0.0,
                 generator: torch.Generator | None = None) -> Tensor:
    """Apply the augmentations named in ``policy`` (e.g. ``"translation,cutout"``) in that order.

    Call it on real and generated samples alike, right before the discriminator. ``""`` returns
    ``x`` unchanged. ``fill`` is the background value (0 for clips in [0, 1], -1 in [-1, 1]).
    """
    for name in parse_policy(policy):
        x = translate(x, fill=fill, generator=generator) if name == "translation" else cutout(x, fill=fill,
                                                                                            generator=generator)
    return x

"""Losses shared by the chapters: GAN objectives (more — KL and likelihood helpers — join as chapters need them).

GAN losses take discriminator *logits* l, with D = sigmoid(l). Then log D = -softplus(-l) and
log(1 - D) = -softplus(l), which stay finite for any l (no log of 0).
"""
from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

LOSS_KINDS = ("saturating", "non_saturating")


def discriminator_loss(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """-V(D, G) estimated on a batch: -mean log D(x) - mean log(1 - D(G(z))). Equals log 4 at D = ½."""
    return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()


def generator_loss(fake_logits: Tensor, kind: str = "non_saturating") -> Tensor:
    """The generator's loss on a batch of logits D(G(z)).

    ``saturating``: mean log(1 - D(G(z))), the minimax objective itself, whose gradient vanishes when
    D confidently rejects the fakes. ``non_saturating``: -mean log D(G(z)), the heuristic of
    Goodfellow et al. (2014, Sec. 3): the same fixed point, strong gradients early in training.
    """
    if kind == "saturating":
        return -F.softplus(fake_logits).mean()
    if kind == "non_saturating":
        return F.softplus(-fake_logits).mean()
    raise ValueError(f"kind={kind!r}: use one of {LOSS_KINDS}")

"""Diagonal Gaussians inside networks: the reparameterised sample and a gated Gaussian head.

A Gaussian is given by its mean and log-variance, each ``(..., D)``; its KL and log-density are in
:mod:`vidgen_lib.losses`.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn


def reparameterize(mu: Tensor, logvar: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """z = mu + sigma * eps with eps ~ N(0, I): a sample that gradients flow through (Kingma & Welling
    2014, Sec. 2.4).

    Args: mu, logvar (..., D). ``generator`` (on the CPU) makes eps repeatable. Returns: (..., D).
    """
    eps = torch.randn(mu.shape, generator=generator, dtype=mu.dtype).to(mu.device)
    return mu + torch.exp(0.5 * logvar) * eps


class GatedGaussianHead(nn.Module):
    """A diagonal Gaussian whose mean and log-variance are a small gated network of its input.

    The gate tanh(W1 c) * sigmoid(W2 c) follows the "DBlock" of the TD-VAE reference code
    (xqding/TD-VAE). cond (B, in_dim) -> mean and log-variance, each (B, out_dim).
    """

    def __init__(self, in_dim: int, hidden: int, out_dim: int) -> None:
        super().__init__()
        self.value, self.gate = nn.Linear(in_dim, hidden), nn.Linear(in_dim, hidden)
        self.mu, self.logvar = nn.Linear(hidden, out_dim), nn.Linear(hidden, out_dim)

    def forward(self, cond: Tensor) -> tuple[Tensor, Tensor]:
        h = torch.tanh(self.value(cond)) * torch.sigmoid(self.gate(cond))
        return self.mu(h), self.logvar(h)

"""Losses shared by the chapters: GAN objectives, and the KL and likelihood helpers of the VAE chapters.

GAN losses take discriminator *logits* l, with D = sigmoid(l). Then log D = -softplus(-l) and
log(1 - D) = -softplus(l), which stay finite for any l (no log of 0).
"""
from __future__ import annotations

import math

import torch.nn.functional as F
from torch import Tensor

LOSS_KINDS = ("saturating", "non_saturating", "hinge")


def discriminator_loss(real_logits: Tensor, fake_logits: Tensor, kind: str = "bce") -> Tensor:
    """The discriminator's loss on a batch of logits for real and for generated samples.

    ``bce``: -V(D, G), i.e. -mean log D(x) - mean log(1 - D(G(z))); equals log 4 at D = ½.
    ``hinge``: mean max(0, 1 - D(x)) + mean max(0, 1 + D(G(z))) on the raw logits (Lim & Ye 2017;
    Miyato et al. 2018): a sample already on the right side of the margin gives no gradient, so D
    stops pushing on what it has learned and spends its capacity on the samples it gets wrong.
    """
    if kind == "bce":
        return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()
    if kind == "hinge":
        return F.relu(1 - real_logits).mean() + F.relu(1 + fake_logits).mean()
    raise ValueError(f"kind={kind!r}: use 'bce' or 'hinge'")


def generator_loss(fake_logits: Tensor, kind: str = "non_saturating") -> Tensor:
    """The generator's loss on a batch of logits D(G(z)).

    ``saturating``: mean log(1 - D(G(z))), the minimax objective itself, whose gradient vanishes when
    D confidently rejects the fakes. ``non_saturating``: -mean log D(G(z)), the heuristic of
    Goodfellow et al. (2014, Sec. 3): the same fixed point, strong gradients early in training.
    ``hinge``: -mean D(G(z)), the generator's half of the hinge game (pairs with the hinge D loss).
    """
    if kind == "hinge":
        return -fake_logits.mean()
    if kind == "saturating":
        return -F.softplus(fake_logits).mean()
    if kind == "non_saturating":
        return F.softplus(-fake_logits).mean()
    raise ValueError(f"kind={kind!r}: use one of {LOSS_KINDS}")


# --- KL and likelihood helpers (VAE chapters) -----------------------------------------------------
# Gaussians are diagonal and given by their mean and log-variance; every helper returns values per
# element (no reduction), so a caller sums over the latent or pixel dimensions it means.

LOG_2PI = math.log(2 * math.pi)


def gaussian_kl(mu_q: Tensor, logvar_q: Tensor, mu_p: Tensor, logvar_p: Tensor) -> Tensor:
    """KL(N(mu_q, var_q) || N(mu_p, var_p)) per element, in closed form (Kingma & Welling 2014, App. B).

    KL = ½ [log var_p − log var_q + (var_q + (mu_q − mu_p)²) / var_p − 1].
    """
    return 0.5 * (logvar_p - logvar_q + (logvar_q.exp() + (mu_q - mu_p) ** 2) / logvar_p.exp() - 1)


def gaussian_log_prob(x: Tensor, mu: Tensor, logvar: Tensor) -> Tensor:
    """log N(x; mu, exp(logvar)) per element, in nats."""
    return -0.5 * (LOG_2PI + logvar + (x - mu) ** 2 / logvar.exp())


def gaussian_nll(x: Tensor, mu: Tensor, logvar: Tensor) -> Tensor:
    """−log N(x; mu, exp(logvar)) per element, in nats."""
    return -gaussian_log_prob(x, mu, logvar)


def bernoulli_nll(logits: Tensor, x: Tensor) -> Tensor:
    """−log Bernoulli(x; sigmoid(logits)) per element, in nats; x in [0, 1] (binary, or grey as a soft
    target)."""
    return F.binary_cross_entropy_with_logits(logits, x, reduction="none")

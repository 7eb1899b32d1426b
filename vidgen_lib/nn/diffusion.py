"""The Gaussian diffusion process of video diffusion models, in continuous time, and DDIM sampling.

A clip ``x`` (values in [-1, 1]) is noised to ``z_t = alpha_t x + sigma_t eps``, ``eps ~ N(0, I)``, for
``t`` in [0, 1], with ``alpha_t² + sigma_t² = 1`` (variance preserving). The schedule is given by the
log signal-to-noise ratio ``lambda_t = log(alpha_t² / sigma_t²)``, which falls from ``LOGSNR_MAX`` at
``t = 0`` (almost clean) to ``LOGSNR_MIN`` at ``t = 1`` (almost pure noise); then
``alpha_t² = sigmoid(lambda_t)`` and ``sigma_t² = sigmoid(-lambda_t)``.

The network can predict ``eps``, ``x`` or ``v = alpha eps - sigma x`` (Salimans & Ho, "Progressive
Distillation", ICLR 2022, Sec. 4); each gives the others in closed form from ``z``. Video Diffusion Models
(Ho et al., NeurIPS 2022, App. A) use the cosine schedule below, ``eps``-prediction on UCF-101 and
``v``-prediction on BAIR. DDIM (Song, Meng, Ermon, ICLR 2021, Eq. 12 with sigma = 0) samples
deterministically in a few steps: predict ``x`` from ``z_t``, then move to ``z_s = alpha_s x + sigma_s eps``
with the ``eps`` that prediction implies.
"""
from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor

LOGSNR_MIN, LOGSNR_MAX = -20.0, 20.0  # Ho et al. 2022, App. A: the cosine schedule clipped to [-20, 20]


def cosine_log_snr(t: Tensor, logsnr_min: float = LOGSNR_MIN, logsnr_max: float = LOGSNR_MAX) -> Tensor:
    """The cosine schedule's log-SNR at times ``t`` in [0, 1]: ``-2 log tan(a t + b)``, with ``a, b`` such
    that it runs from ``logsnr_max`` at t = 0 to ``logsnr_min`` at t = 1. Unclipped (a = pi/2, b = 0) it is
    ``alpha_t = cos(pi t / 2)``, ``sigma_t = sin(pi t / 2)`` (Nichol & Dhariwal, ICML 2021, Eq. 17)."""
    b = math.atan(math.exp(-0.5 * logsnr_max))
    a = math.atan(math.exp(-0.5 * logsnr_min)) - b
    return -2.0 * torch.log(torch.tan(a * t + b))


def alpha_sigma(log_snr: Tensor) -> tuple[Tensor, Tensor]:
    """``(alpha, sigma)`` of a log-SNR: ``alpha² = sigmoid(log_snr)``, ``sigma² = sigmoid(-log_snr)``."""
    return torch.sigmoid(log_snr).sqrt(), torch.sigmoid(-log_snr).sqrt()


def _per_clip(value: Tensor, like: Tensor) -> Tensor:
    """``(B,)`` -> ``(B, 1, 1, ...)`` so it broadcasts over a batch shaped like ``like``."""
    return value.reshape(-1, *([1] * (like.ndim - 1)))


def diffuse(x: Tensor, log_snr: Tensor, noise: Tensor) -> Tensor:
    """``z = alpha x + sigma eps``: the clips ``x`` ``(B, ...)`` noised to log-SNR ``log_snr`` ``(B,)``."""
    alpha, sigma = (_per_clip(v, x) for v in alpha_sigma(log_snr))
    return alpha * x + sigma * noise


def v_from(x: Tensor, noise: Tensor, log_snr: Tensor) -> Tensor:
    """The v-prediction target ``v = alpha eps - sigma x``."""
    alpha, sigma = (_per_clip(v, x) for v in alpha_sigma(log_snr))
    return alpha * noise - sigma * x


def x_from_v(z: Tensor, v: Tensor, log_snr: Tensor) -> Tensor:
    """The clean clip a v-prediction implies: ``x = alpha z - sigma v``."""
    alpha, sigma = (_per_clip(value, z) for value in alpha_sigma(log_snr))
    return alpha * z - sigma * v


def eps_from_x(z: Tensor, x: Tensor, log_snr: Tensor) -> Tensor:
    """The noise a clean-clip prediction implies: ``eps = (z - alpha x) / sigma``."""
    alpha, sigma = (_per_clip(value, z) for value in alpha_sigma(log_snr))
    return (z - alpha * x) / sigma


def x_from_eps(z: Tensor, eps: Tensor, log_snr: Tensor) -> Tensor:
    """The clean clip an eps-prediction implies: ``x = (z - sigma eps) / alpha``."""
    alpha, sigma = (_per_clip(value, z) for value in alpha_sigma(log_snr))
    return (z - sigma * eps) / alpha


def guided(conditional: Tensor, unconditional: Tensor, scale: float) -> Tensor:
    """Classifier-free guidance (Ho & Salimans, 2022, Eq. 6): ``(1 + w) conditional - w unconditional``;
    ``w = 0`` is the conditional model, larger ``w`` follows the condition harder (less diversity)."""
    return (1.0 + scale) * conditional - scale * unconditional


def ddim_sample(denoise: Callable[[Tensor, Tensor], Tensor], noise: Tensor, steps: int,
                clip: bool = True) -> Tensor:
    """Deterministic DDIM from pure noise to a clean sample in ``steps`` steps of equal time.

    Args:
        denoise: ``denoise(z, log_snr)`` -> the predicted clean clips ``x`` (same shape as ``z``;
            ``log_snr`` is ``(B,)``), e.g. ``x_from_v(z, network(z, log_snr), log_snr)``.
        noise: ``(B, ...)`` standard-normal draws: ``z_1``.
        steps: network evaluations.
        clip: clamp each predicted ``x`` to [-1, 1] (the data's range).
    Returns:
        the last predicted ``x``, ``(B, ...)``.
    """
    if steps < 1:
        raise ValueError(f"steps must be a positive number of denoising steps, got {steps}.")
    z = noise
    times = torch.linspace(1.0, 0.0, steps + 1, device=noise.device)
    for t, s in zip(times[:-1], times[1:]):
        log_snr_t = cosine_log_snr(t).expand(len(z))
        x = denoise(z, log_snr_t)
        if clip:
            x = x.clamp(-1.0, 1.0)
        z = ddim_step(z, x, log_snr_t, cosine_log_snr(s).expand(len(z)))
    return x


def ddim_step(z: Tensor, x: Tensor, log_snr_t: Tensor, log_snr_s: Tensor) -> Tensor:
    """One deterministic DDIM step (Song et al. 2021, Eq. 12, sigma = 0) from ``z_t`` to the less noisy
    ``z_s``, given the predicted clean clips ``x``: keep the noise that ``x`` implies and re-mix it at ``s``,
    ``z_s = alpha_s x + sigma_s (z_t - alpha_t x) / sigma_t``. ``log_snr_t``, ``log_snr_s``: ``(B,)``."""
    alpha_s, sigma_s = (_per_clip(v, z) for v in alpha_sigma(log_snr_s))
    return alpha_s * x + sigma_s * eps_from_x(z, x, log_snr_t)

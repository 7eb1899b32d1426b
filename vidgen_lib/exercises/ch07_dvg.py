"""Checks for the exercises of notebook 07 (DVG, action-conditioned SVG-LP).

Each check calls the learner's function on known inputs, prints one ``✓`` line when it is right, and
otherwise raises ``ExerciseError`` with what is wrong and a hint. The reference answers are the
library's own: ``vidgen_lib.losses.gaussian_kl`` (summed over the latent dimensions) and
``vidgen_lib.models.dvg``.
"""
from __future__ import annotations

import math
from typing import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from vidgen_lib import losses
from vidgen_lib.exercises import ExerciseError, as_float, as_tensor, call, passed, register
from vidgen_lib.models import dvg


def _kl(mu_q: Tensor, logvar_q: Tensor, mu_p: Tensor, logvar_p: Tensor) -> Tensor:
    """KL(q || p) of diagonal Gaussians (..., D), summed over the last dim: (...)."""
    return losses.gaussian_kl(mu_q, logvar_q, mu_p, logvar_p).sum(-1)


@register("7.1")
def check_dvg_gaussian_kl(gaussian_kl: Callable[[Tensor, Tensor, Tensor, Tensor], Tensor]) -> None:
    """7.1: ``gaussian_kl(mu_q, logvar_q, mu_p, logvar_p)``, all (B, D) -> KL(q || p) per row, (B,)."""
    g = torch.Generator().manual_seed(71)
    mu_q, logvar_q, mu_p, logvar_p = torch.randn(4, 6, 3, generator=g, dtype=torch.float64).unbind(0)
    got = as_tensor("7.1", call("7.1", gaussian_kl, mu_q, logvar_q, mu_p, logvar_p), (6,),
                  "one KL per row, summed over the latent dimensions")
    want = _kl(mu_q, logvar_q, mu_p, logvar_p)
    if torch.allclose(got.double(), want, rtol=1e-4, atol=1e-6):
        same = call("7.1", gaussian_kl, mu_q, logvar_q, mu_q, logvar_q)
        if not torch.allclose(torch.as_tensor(same).double(), torch.zeros(6, dtype=torch.float64), atol=1e-6):
            raise ExerciseError("Exercise 7.1: KL(q || q) should be 0 for every row.")
        passed("7.1", "the Gaussian KL(q ‖ p) matches the closed form on 6 random pairs, and KL(q ‖ q) = 0.")
        return
    swapped = _kl(mu_p, logvar_p, mu_q, logvar_q)
    if torch.allclose(got.double(), swapped, rtol=1e-4, atol=1e-6):
        hint = "you computed KL(p ‖ q): the KL is not symmetric; the posterior q comes first."
    elif torch.allclose(got.double(), 2 * want, rtol=1e-4, atol=1e-6):
        hint = "it is twice the answer: the closed form has a factor 1/2 in front."
    elif torch.allclose(got.double(), want + 0.5 * mu_q.shape[1], rtol=1e-4, atol=1e-6):
        hint = "it is off by D/2: remember the '- 1' inside the sum, once per dimension."
    else:
        hint = ("use KL = ½ Σ_i [logvar_p − logvar_q + (exp(logvar_q) + (mu_q − mu_p)²) / exp(logvar_p) − 1];"
                " logvar is log σ², so σ² = exp(logvar).")
    raise ExerciseError(f"Exercise 7.1: your KL is wrong (row 0: got {got[0].item():.4f}, expected "
                        f"{want[0].item():.4f}): {hint}")


@register("7.2")
def check_dvg_sample_z(sample_z: Callable[[Tensor, Tensor, Tensor], Tensor]) -> None:
    """7.2: ``sample_z(mu, logvar, eps)``, all (B, D) -> z = mu + sigma * eps, with gradients to mu and
    logvar."""
    g = torch.Generator().manual_seed(72)
    mu = torch.randn(5, 4, generator=g).requires_grad_(True)
    logvar = torch.randn(5, 4, generator=g).requires_grad_(True)
    eps = torch.randn(5, 4, generator=g)
    got = as_tensor("7.2", call("7.2", sample_z, mu, logvar, eps), (5, 4), "z, one sample per row")
    want = mu + torch.exp(0.5 * logvar) * eps
    if not torch.allclose(got, want, atol=1e-5):
        if torch.allclose(got, mu + torch.exp(logvar) * eps, atol=1e-5):
            hint = ("you scaled eps by the variance exp(logvar); scale it by the standard deviation "
                    "exp(½ logvar).")
        elif torch.allclose(got, mu + logvar * eps, atol=1e-5):
            hint = "logvar is log σ²: σ = exp(½ logvar), not logvar itself."
        elif torch.allclose(got, mu, atol=1e-5):
            hint = "z equals mu: the noise eps is missing."
        else:
            hint = "z = mu + exp(½ logvar) * eps, element by element."
        raise ExerciseError(f"Exercise 7.2: your z is wrong: {hint}")
    if not got.requires_grad:
        raise ExerciseError("Exercise 7.2: z carries no gradient: build it from mu and logvar with tensor "
                            "operations (no .detach(), no torch.no_grad, no new tensors from .item()).")
    (mu_grad, logvar_grad) = torch.autograd.grad(got.sum(), [mu, logvar])
    if not torch.allclose(mu_grad, torch.ones_like(mu)) or not torch.allclose(
            logvar_grad, 0.5 * torch.exp(0.5 * logvar.detach()) * eps, atol=1e-5):
        raise ExerciseError("Exercise 7.2: the gradients of z with respect to mu and logvar are wrong.")
    passed("7.2", "z = mu + exp(½ logvar) ⊙ eps, and gradients reach mu and logvar "
                  "(the reparameterisation trick).")


@register("7.4")
def check_dvg_kl_weight(kl_weight: Callable[[int, float, int], float]) -> None:
    """7.4: ``kl_weight(step, beta, warmup_steps)``: a linear ramp from 0 to beta over warmup_steps, then
    beta."""
    cases = [(0, 1e-4, 1000), (250, 1e-4, 1000), (1000, 1e-4, 1000), (5000, 1e-4, 1000), (3, 0.5, 6),
             (7, 0.5, 0)]
    for step, beta, warmup in cases:
        got = as_float("7.4", call("7.4", kl_weight, step, beta, warmup), "the KL weight")
        want = dvg.kl_weight(step, beta, warmup)
        if math.isfinite(got) and abs(got - want) <= 1e-12 + 1e-6 * abs(want):
            continue
        where = f"at step {step} (beta={beta}, warmup_steps={warmup}): got {got:.6g}, expected {want:.6g}"
        if warmup == 0:
            hint = "with warmup_steps = 0 there is no warm-up: return beta (and do not divide by zero)."
        elif step > warmup and got > beta:
            hint = "the weight keeps growing after the warm-up: cap it at beta (min(1, step / warmup_steps))."
        elif step == 0 and got == beta:
            hint = "at step 0 the KL should be switched off (weight 0), and reach beta at warmup_steps."
        else:
            hint = "beta * min(1, step / warmup_steps)."
        raise ExerciseError(f"Exercise 7.4: wrong weight {where}: {hint}")
    passed("7.4", "beta rises linearly from 0 to beta over the warm-up, then stays at beta.")


@register("7.3")
def check_dvg_predictor_input(predictor_input: Callable[[Tensor, Tensor, Tensor, int], Tensor]) -> None:
    """7.3: ``predictor_input(h_prev (B, G), z (B, Z), action (B,) int, num_actions)`` -> [h, z, one-hot a],
    (B, G + Z + A)."""
    g = torch.Generator().manual_seed(74)
    h, z = torch.randn(3, 6, generator=g), torch.randn(3, 2, generator=g)
    action = torch.tensor([0, 4, 2])
    got = as_tensor("7.3", call("7.3", predictor_input, h, z, action, 5), (3, 13),
                  "the predictor's input [h_{t-1}, z_t, one_hot(a_t)]")
    want = torch.cat([h, z, F.one_hot(action, 5).float()], dim=-1)
    if torch.allclose(got.float(), want):
        passed("7.3", "the predictor sees [h_{t-1}, z_t, one_hot(a_t)], in that order.")
        return
    if torch.allclose(got[:, :6].float(), h) and torch.allclose(got[:, 6:8].float(), z):
        hint = "h and z are right, the action part is not: one_hot(action, num_actions) as floats."
    elif torch.allclose(got[:, :2].float(), z):
        hint = "the order is [h_{t-1}, z_t, action], h first."
    else:
        hint = "torch.cat([h_prev, z, F.one_hot(action, num_actions).float()], dim=-1)."
    raise ExerciseError(f"Exercise 7.3: your input is wrong: {hint}")

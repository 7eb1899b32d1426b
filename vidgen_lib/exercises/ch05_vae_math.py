"""Checks for the exercises of notebook 05 (VAE math).

The reference answers are ``vidgen_lib.losses.gaussian_kl`` / ``bernoulli_nll`` and the formulas of
Kingma & Welling (2014); each check also recognises the typical mistakes and names them.
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor
from torch.distributions import Normal, kl_divergence

from vidgen_lib.exercises import ExerciseError, as_float, call, passed, measure_settings, register
from vidgen_lib.losses import bernoulli_nll, gaussian_kl


def _gaussian_cases() -> tuple[Tensor, Tensor, Tensor, Tensor]:
    g = torch.Generator().manual_seed(5)
    mu_q, mu_p = torch.randn(6, 3, generator=g), torch.randn(6, 3, generator=g)
    logvar_q, logvar_p = torch.randn(6, 3, generator=g), torch.randn(6, 3, generator=g)
    return mu_q, logvar_q, mu_p, logvar_p


@register("5.1")
def check_gaussian_kl(fn: Callable[[Tensor, Tensor, Tensor, Tensor], Tensor]) -> None:
    """Check ``fn(mu_q, logvar_q, mu_p, logvar_p)`` = KL(N_q || N_p) per element, against
    torch.distributions."""
    mu_q, logvar_q, mu_p, logvar_p = _gaussian_cases()
    got = call("5.1", fn, mu_q, logvar_q, mu_p, logvar_p)
    if not isinstance(got, Tensor) or got.shape != mu_q.shape:
        shape = tuple(got.shape) if isinstance(got, Tensor) else type(got).__name__
        raise ExerciseError(f"Exercise 5.1: return one KL per element, a tensor of shape "
                            f"{tuple(mu_q.shape)}; got {shape}. Do not sum or average inside the function.")
    want = kl_divergence(Normal(mu_q, (0.5 * logvar_q).exp()), Normal(mu_p, (0.5 * logvar_p).exp()))
    got = got.detach()
    if torch.allclose(got, want, atol=1e-5):
        passed("5.1", "your Gaussian KL matches torch.distributions.kl_divergence on 18 pairs.")
        return
    swapped = kl_divergence(Normal(mu_p, (0.5 * logvar_p).exp()), Normal(mu_q, (0.5 * logvar_q).exp()))
    if torch.allclose(got, swapped, atol=1e-5):
        hint = "you computed KL(p || q): the KL is not symmetric; the expectation is under q."
    elif torch.allclose(got, 2 * want, atol=1e-5):
        hint = "your values are twice the KL: the formula has a factor 1/2 in front."
    elif (got < -1e-6).any():
        hint = "some values are negative, and a KL never is: check the signs of the log-variance terms."
    else:
        hint = ("compare with ½[logvar_p − logvar_q + (exp(logvar_q) + (mu_q − mu_p)²) / exp(logvar_p) − 1]; "
                "remember logvar is the log of the *variance*, so the variance is exp(logvar).")
    raise ExerciseError(f"Exercise 5.1: wrong KL (first element: got {got.flatten()[0]:.4f}, expected "
                        f"{want.flatten()[0]:.4f}): {hint}")


@register("5.2")
def check_reparameterize(fn: Callable[[Tensor, Tensor, Tensor], Tensor]) -> None:
    """Check ``fn(mu, logvar, eps)`` = mu + exp(logvar / 2) * eps, differentiable in mu and logvar."""
    g = torch.Generator().manual_seed(6)
    mu = torch.randn(4, 3, generator=g).requires_grad_()
    logvar = torch.randn(4, 3, generator=g).requires_grad_()
    eps = torch.randn(4, 3, generator=g)
    z = call("5.2", fn, mu, logvar, eps)
    if not isinstance(z, Tensor) or z.shape != mu.shape:
        raise ExerciseError(f"Exercise 5.2: z should have the shape of mu, {tuple(mu.shape)}.")
    want = mu + (0.5 * logvar).exp() * eps
    if not torch.allclose(z.detach(), want.detach(), atol=1e-6):
        if torch.allclose(z.detach(), (mu + logvar.exp() * eps).detach(), atol=1e-6):
            hint = ("you scaled eps by the variance exp(logvar); "
                    "scale it by the standard deviation exp(logvar / 2).")
        elif torch.allclose(z.detach(), (mu + logvar * eps).detach(), atol=1e-6):
            hint = "logvar is a log-variance: the standard deviation is exp(logvar / 2), not logvar."
        else:
            hint = "z = mu + sigma * eps with sigma = exp(logvar / 2), using the eps you are given."
        raise ExerciseError(f"Exercise 5.2: wrong sample: {hint}")
    if not z.requires_grad:
        raise ExerciseError("Exercise 5.2: z carries no gradient: build it from mu and logvar with torch "
                            "operations (no .detach(), no torch.no_grad()), so the ELBO can be "
                            "differentiated through it.")
    grad_mu, grad_logvar = torch.autograd.grad(z.sum(), [mu, logvar])
    if not torch.allclose(grad_logvar, 0.5 * (0.5 * logvar).exp().detach() * eps, atol=1e-6):
        raise ExerciseError("Exercise 5.2: the gradient with respect to logvar is wrong; "
                            "use exp(0.5 * logvar).")
    passed("5.2", "z = mu + sigma * eps, and gradients flow to mu and logvar.")


@register("5.3")
def check_negative_elbo(fn: Callable[[Tensor, Tensor, Tensor, Tensor], Tensor]) -> None:
    """Check ``fn(x, logits, mu, logvar)`` = mean over the batch of [Bernoulli NLL summed over pixels + KL
    to N(0, I)]."""
    g = torch.Generator().manual_seed(7)
    x = (torch.rand(5, 1, 4, 4, generator=g) > 0.5).float()
    logits = torch.randn(5, 1, 4, 4, generator=g)
    mu, logvar = torch.randn(5, 3, generator=g), torch.randn(5, 3, generator=g)
    got = as_float("5.3", call("5.3", fn, x, logits, mu, logvar), "the negative ELBO")
    recon = bernoulli_nll(logits, x).sum((1, 2, 3))
    kl = gaussian_kl(mu, logvar, torch.zeros_like(mu), torch.zeros_like(logvar)).sum(-1)
    want = float((recon + kl).mean())
    if abs(got - want) < 1e-4:
        passed("5.3", f"negative ELBO {got:.4f} nats per frame (reconstruction {float(recon.mean()):.4f} + "
                      f"KL {float(kl.mean()):.4f}).")
        return
    if abs(got + want) < 1e-4:
        hint = "the sign is flipped: return the *negative* ELBO, the number to minimise."
    elif abs(got - float(recon.mean())) < 1e-4:
        hint = "you left out the KL term KL(q(z|x) || N(0, I))."
    elif abs(got - float(kl.mean())) < 1e-4:
        hint = "you left out the reconstruction term."
    elif abs(got - float(recon.mean() - kl.mean())) < 1e-4:
        hint = "the KL is subtracted: the negative ELBO is reconstruction NLL *plus* KL."
    elif abs(got - float(bernoulli_nll(logits, x).mean() + kl.mean())) < 1e-4:
        hint = "you averaged the reconstruction over pixels: sum it over pixels, then average over frames."
    else:
        hint = ("sum the Bernoulli NLL (binary_cross_entropy_with_logits, reduction='none') over pixels "
                "and the KL over latent dimensions, add them, and average over the batch.")
    raise ExerciseError(f"Exercise 5.3: got {got:.4f}, expected {want:.4f}: {hint}")


# --- answers with the learner's signatures, where the library has no such function: a notebook goes on
# with these while an exercise is not done yet (``use_answer``) --------------------------------------

def reparameterize(mu: Tensor, logvar: Tensor, eps: Tensor) -> Tensor:
    """5.2's answer: ``nn.gaussian.reparameterize`` with the noise ``eps`` given instead of drawn."""
    return mu + torch.exp(0.5 * logvar) * eps


def negative_elbo(x: Tensor, logits: Tensor, mu: Tensor, logvar: Tensor) -> Tensor:
    """5.3's answer: mean over frames of the Bernoulli NLL (summed over pixels) + KL to N(0, I)."""
    recon = bernoulli_nll(logits, x).sum((1, 2, 3))
    kl = gaussian_kl(mu, logvar, torch.zeros_like(mu), torch.zeros_like(logvar)).sum(-1)
    return (recon + kl).mean()


@register("5.4")
def check_kl_weight_experiment(kl_after: Callable[[float], float]) -> None:
    """5.4: ``kl_after(beta)``: the mean KL(q(z|x) || N(0, I)) per held-out frame of a FrameVAE trained
    briefly on ``recon_nll + beta * kl``, from the same start; a larger beta must lower it."""
    kls = measure_settings("5.4", kl_after, (0.1, 4.0), "the KL")
    if not kls[4.0] < kls[0.1]:
        raise ExerciseError(f"Exercise 5.4: with beta = 4 the KL is {kls[4.0]:.4f}, with beta = 0.1 "
                            f"{kls[0.1]:.4f}: the heavier weight should lower it. Does the loss multiply "
                            "only the KL term by beta, do both runs use the same steps and seed, and do you "
                            "measure the KL on the held-out frames?")
    passed("5.4", f"the KL per held-out frame falls from {kls[0.1]:.3f} nats (beta = 0.1) to {kls[4.0]:.3f} "
                  "nats (beta = 4) after the same training.")

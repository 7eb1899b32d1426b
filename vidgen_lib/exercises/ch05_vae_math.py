"""Checks for the exercises of notebook 05 (VAE math).

The reference answers are ``vidgen_lib.losses.gaussian_kl`` / ``bernoulli_nll`` and the formulas of
Kingma & Welling (2014); each check also recognises the typical mistakes and names them.
"""
from __future__ import annotations


from typing import Callable

import torch
from torch import Tensor, nn
from torch.distributions import Normal, kl_divergence

from vidgen_lib.exercises import ExerciseError, as_float, as_tensor, call, passed, measure_settings, register
from vidgen_lib.losses import bernoulli_nll, gaussian_kl
from vidgen_lib.runtime import single_thread
from vidgen_lib.vae_toy import FrameVAE


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


# --- 5.4: the frame VAE as a module ----------------------------------------------------------------

LAYERS = ("Conv2d(1, w, 4, 2, 1), Conv2d(w, 2w, 4, 2, 1), Linear(2w·(S/4)², hidden), Linear(hidden, "
          "2·z_dim); then Linear(z_dim, hidden), Linear(hidden, 2w·(S/4)²), ConvTranspose2d(2w, w, 4, 2, 1), "
          "ConvTranspose2d(w, 1, 4, 2, 1)")


def _squares(size: int = 16) -> Tensor:
    """Four frames (4, 1, size, size): a 5x5 square in each corner, the tiny batch 5.4 overfits."""
    frames = torch.zeros(4, 1, size, size)
    for i, (r, c) in enumerate([(2, 2), (2, size - 7), (size - 7, 2), (size - 7, size - 7)]):
        frames[i, 0, r:r + 5, c:c + 5] = 1.0
    return frames


def _shapes(model: nn.Module) -> list[tuple[int, ...]]:
    return sorted(tuple(p.shape) for p in model.parameters())


def _own_terms(model: nn.Module, x: Tensor, eps: Tensor, *, std_power: float = 0.5,
               use_mean: bool = False) -> tuple[Tensor, Tensor]:
    """recon_nll and kl of the learner's own encoder and decoder at z = mu + exp(logvar / 2) * eps (or a
    typical mistake), each averaged over the frames."""
    mu, logvar = model.encode(x)
    z = mu if use_mean else mu + torch.exp(std_power * logvar) * eps
    recon = bernoulli_nll(model.decode_logits(z), x).sum((1, 2, 3))
    kl = gaussian_kl(mu, logvar, torch.zeros_like(mu), torch.zeros_like(logvar)).sum(-1)
    return recon.mean(), kl.mean()


def _close(a: float, b: float) -> bool:
    return abs(a - b) <= 1e-4 * max(1.0, abs(b))


def _built(cls: Callable[..., nn.Module], args: tuple[int, ...]) -> nn.Module:
    """The learner's module for (z_dim, frame_size, width, hidden), its layers checked against FrameVAE's."""
    model = call("5.4", cls, *args)
    if not isinstance(model, nn.Module):
        raise ExerciseError(f"Exercise 5.4: the class should be an nn.Module; got {type(model).__name__}.")
    want = _shapes(FrameVAE(*args))
    if _shapes(model) != want:
        raise ExerciseError(
            "Exercise 5.4: the layers differ from the frame VAE described above (z_dim, frame_size, width, "
            f"hidden = {args}): expected parameters of the shapes {want}, got {_shapes(model)}. The layers: "
            f"{LAYERS}.")
    return model


def _check_shapes(model: nn.Module, x: Tensor, z_dim: int) -> None:
    mu_logvar = call("5.4", model.encode, x)
    if not (isinstance(mu_logvar, (tuple, list)) and len(mu_logvar) == 2):
        raise ExerciseError("Exercise 5.4: encode(x) should return the pair (mu, logvar).")
    for name, value in zip(("mu", "logvar"), mu_logvar):
        as_tensor("5.4", value, (len(x), z_dim), f"encode(x)'s {name} (B, z_dim)")
    logits = as_tensor("5.4", call("5.4", model.decode_logits, mu_logvar[0]), tuple(x.shape),
                       "decode_logits(z) (B, 1, S, S)")
    if logits.min() >= 0 and logits.max() <= 1:
        raise ExerciseError("Exercise 5.4: decode_logits returns values in [0, 1]: return the logits, "
                            "without a sigmoid; the Bernoulli NLL (binary_cross_entropy_with_logits) "
                            "applies it.")


def _check_terms(got: dict[str, float], model: nn.Module, x: Tensor, eps: Tensor) -> None:
    """forward's numbers against the learner's own encoder and decoder at the same draw eps."""
    with torch.no_grad():
        recon, kl = (float(v) for v in _own_terms(model, x, eps))
        mu, logvar = model.encode(x)
        kl_mean_over_z = float(gaussian_kl(mu, logvar, torch.zeros_like(mu), torch.zeros_like(logvar)).mean())
        if not _close(got["kl"], kl):
            kl_mistakes = [(kl_mean_over_z, "you averaged the KL over the latent dimensions: sum it over z, "
                                            "then average over the frames."),
                           (len(x) * kl, "you summed the KL over the frames: average it over the batch.")]
            hint = next((text for value, text in kl_mistakes if _close(got["kl"], value)),
                        "KL(q(z|x) || N(0, I)) = ½ Σ (mu² + exp(logvar) − logvar − 1) over z, averaged over "
                        "the frames (your gaussian_kl of Exercise 5.1 against mu = 0, logvar = 0).")
            raise ExerciseError(f"Exercise 5.4: 'kl' is {got['kl']:.4f}, expected {kl:.4f} from your "
                                f"encoder's mu and logvar: {hint}")
        if not _close(got["recon_nll"], recon):
            mistakes = [
                (float(_own_terms(model, x, eps, use_mean=True)[0]),
                 "you decoded mu: training decodes one sample z = mu + sigma * eps (the reparameterisation "
                 "of Exercise 5.2)."),
                (float(_own_terms(model, x, eps, std_power=1.0)[0]),
                 "sigma = exp(logvar / 2), the standard deviation, not exp(logvar)."),
                (len(x) * recon,
                 "you summed the reconstruction NLL over the frames: average it over the batch."),
                (recon / x[0].numel(), "you averaged the NLL over the pixels: sum it over a frame's pixels, "
                                       "then average over the frames."),
            ]
            hint = next((text for value, text in mistakes if _close(got["recon_nll"], value)),
                        "draw eps = torch.randn_like(mu) once, z = mu + exp(logvar / 2) * eps, and sum "
                        "binary_cross_entropy_with_logits(decode_logits(z), x) over the pixels of each "
                        "frame, then average over the frames.")
            raise ExerciseError(f"Exercise 5.4: 'recon_nll' is {got['recon_nll']:.4f}, expected {recon:.4f} "
                                f"from your encoder and decoder at one sample: {hint}")
    if not _close(got["loss"], recon + kl):
        raise ExerciseError("Exercise 5.4: 'loss' should be the negative ELBO, recon_nll + kl; got "
                            f"{got['loss']:.4f}, expected {recon + kl:.4f}.")


def _check_gradients(model: nn.Module, out: dict[str, Tensor]) -> None:
    if not isinstance(out["loss"], Tensor) or not out["loss"].requires_grad:
        raise ExerciseError("Exercise 5.4: the loss carries no gradient: no torch.no_grad(), .item() or "
                            ".detach() in forward.")
    model.zero_grad()
    out["recon_nll"].backward(retain_graph=True)
    from_recon = [p for p in model.parameters() if p.grad is not None and p.grad.abs().sum() > 0]
    out["loss"].backward()
    silent = [name for name, p in model.named_parameters() if p.grad is None or p.grad.abs().sum() == 0]
    if silent:
        raise ExerciseError(f"Exercise 5.4: no gradient reaches {silent[0]}: every layer should be used in "
                            "forward, and z must stay mu + sigma * eps (no .detach()).")
    if len(from_recon) < len(list(model.parameters())):
        raise ExerciseError("Exercise 5.4: the reconstruction term sends no gradient into the encoder: build "
                            "z from mu and logvar with torch operations (mu + exp(logvar / 2) * eps, no "
                            ".detach()), so the encoder learns what to encode.")


@register("5.4")
def check_frame_vae(cls: Callable[..., nn.Module]) -> None:
    """5.4: ``cls(z_dim, frame_size, width, hidden)``, a module with ``encode(x)`` -> (mu, logvar), each
    (B, z_dim), ``decode_logits(z)`` -> (B, 1, S, S) and ``forward(x)`` -> {"loss", "recon_nll", "kl"} (the
    negative ELBO and its terms at one reparameterised sample, averaged over frames), with the layers of
    ``vae_toy.FrameVAE``. Checked: the layers, the shapes, forward against its own encoder and decoder, the
    gradients, and that it fits 4 frames in 50 steps."""
    sizes, x = (3, 16, 8, 32), _squares()  # z_dim, frame_size, width, hidden
    with single_thread(), torch.random.fork_rng(devices=[]):
        torch.manual_seed(55)
        _built(cls, (4, 32, 16, 128))
        model = _built(cls, sizes)
        with torch.no_grad():  # weights larger than at initialisation: sigma differs clearly from 1 and the
            for p in model.parameters():  # frames depend on z, so that a wrong sample changes the loss
                p.mul_(2.0)
        _check_shapes(model, x, sizes[0])
        torch.manual_seed(551)
        out = call("5.4", model, x)
        if not isinstance(out, dict) or not {"loss", "recon_nll", "kl"} <= set(out):
            raise ExerciseError("Exercise 5.4: forward(x) should return a dict with 'loss', 'recon_nll' and "
                                "'kl'.")
        torch.manual_seed(551)  # the same draw: eps = torch.randn_like(mu)
        _check_terms({k: as_float("5.4", out[k], f"'{k}'") for k in ("loss", "recon_nll", "kl")}, model, x,
                     torch.randn(len(x), sizes[0]))
        _check_gradients(model, out)
        torch.manual_seed(552)
        model = cls(*sizes)
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
        losses = []
        for _ in range(50):
            loss = model(x)["loss"]
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
    final = sum(losses[-5:]) / 5
    if not final < 0.5 * losses[0]:
        raise ExerciseError(f"Exercise 5.4: after 50 Adam steps on 4 frames the loss went from "
                            f"{losses[0]:.1f} to {final:.1f} nats per frame; it should fall below half. Does "
                            "forward return the loss of its own encoder and decoder?")
    passed("5.4", "the layers of FrameVAE, the shapes, forward = the negative ELBO of its own encoder and "
                  "decoder at one reparameterised sample, gradients in every layer, and it fits 4 frames in "
                  "50 steps.")


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


@register("5.5")
def check_kl_weight_experiment(kl_after: Callable[[float], float]) -> None:
    """5.5: ``kl_after(beta)``: the mean KL(q(z|x) || N(0, I)) per held-out frame of a FrameVAE trained
    briefly on ``recon_nll + beta * kl``, from the same start; a larger beta must lower it."""
    kls = measure_settings("5.5", kl_after, (0.1, 4.0), "the KL")
    if not kls[4.0] < kls[0.1]:
        raise ExerciseError(f"Exercise 5.5: with beta = 4 the KL is {kls[4.0]:.4f}, with beta = 0.1 "
                            f"{kls[0.1]:.4f}: the heavier weight should lower it. Does the loss multiply "
                            "only the KL term by beta, do both runs use the same steps and seed, and do you "
                            "measure the KL on the held-out frames?")
    passed("5.5", f"the KL per held-out frame falls from {kls[0.1]:.3f} nats (beta = 0.1) to {kls[4.0]:.3f} "
                  "nats (beta = 4) after the same training.")

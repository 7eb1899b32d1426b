"""Checks for the exercises of notebook 11 (video diffusion), and the references they compare with.

Each check calls the learner's answer on known inputs, prints one ``✓`` line when it is right, and
otherwise raises ``ExerciseError`` with what is wrong and a hint. The references are the library's:
``nn.diffusion.diffuse`` (11.1), :func:`x_error_experiment` below (11.2), ``nn.diffusion.ddim_step``
(11.3), and :func:`guided_v` below (11.4), which ``models.diffusion.sample_from_noise`` computes inline.
"""
from __future__ import annotations

from typing import Any, Callable

import torch
from torch import Tensor

from vidgen_lib.exercises import ExerciseError, as_float, call, passed, register
from vidgen_lib.nn.diffusion import cosine_log_snr, ddim_step, diffuse, guided, x_from_eps, x_from_v


def noised(x: Tensor, t: Tensor, eps: Tensor) -> Tensor:
    """The reference of 11.1: ``z_t`` of clips ``x`` at times ``t`` ``(B,)`` with noise ``eps``."""
    return diffuse(x, cosine_log_snr(t), eps)


def guided_v(network: Callable[[Tensor, Tensor, Tensor], Tensor], z: Tensor, log_snr: Tensor, tokens: Tensor,
             w: float) -> Tensor:
    """The reference of 11.4: classifier-free guidance of a v-network, ``(1 + w) v(caption) - w v(empty)``."""
    return guided(network(z, log_snr, tokens), network(z, log_snr, torch.zeros_like(tokens)), w)


def x_error_experiment(config: Any, clips: Tensor, tokens: Tensor, steps: int, times: tuple[float, ...]
                       ) -> Callable[[str], dict[float, float]]:
    """The reference of 11.2: ``x_error_after_training(target)`` trains a fresh network of ``config`` for
    ``steps`` steps on batches of ``clips`` ``(N, 3, T, H, W)`` in [-1, 1] with caption ids ``tokens``,
    predicting ``target``, then returns the mean squared error of the clip its prediction implies, at each
    of ``times``, on the first 32 clips with fixed noise."""
    from vidgen_lib.models import diffusion

    def x_error_after_training(target: str) -> dict[float, float]:
        torch.manual_seed(0)
        network = diffusion.build(config).network
        optimizer = torch.optim.Adam(network.parameters(), lr=2e-3)
        for _ in range(steps):
            batch = torch.randint(len(clips), (config.batch_size,))
            loss = diffusion.diffusion_loss(network, clips[batch], tokens[batch], target=target)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        x, words = clips[:32], tokens[:32]
        noise = torch.randn(x.shape, generator=torch.Generator().manual_seed(1))
        errors = {}
        with torch.no_grad():
            for t in times:
                log_snr = cosine_log_snr(torch.full((len(x),), t))
                z = diffuse(x, log_snr, noise)
                predicted = network(z, log_snr, words)
                implied = x_from_v if target == "v" else x_from_eps
                x_hat = implied(z, predicted, log_snr)
                errors[t] = (x_hat - x).pow(2).mean().item()
        return errors
    return x_error_after_training


def _clips(seed: int) -> tuple[Tensor, Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(4, 3, 2, 5, 5, generator=g) * 2 - 1, torch.randn(4, 3, 2, 5, 5, generator=g)


@register("11.1")
def check_noised(fn: Callable[[Tensor, Tensor, Tensor], Tensor]) -> None:
    """11.1: ``noised(x, t, eps) -> z_t`` on the cosine schedule."""
    x, eps = _clips(111)
    t = torch.tensor([0.0, 0.3, 0.7, 1.0])
    got = call("11.1", fn, x, t, eps)
    if not isinstance(got, Tensor) or got.shape != x.shape:
        raise ExerciseError(f"Exercise 11.1: return z_t shaped like x, {tuple(x.shape)}; got "
                            f"{tuple(got.shape) if isinstance(got, Tensor) else type(got).__name__}.")
    alpha2, sigma2 = torch.sigmoid(cosine_log_snr(t)), torch.sigmoid(-cosine_log_snr(t))
    per_clip = lambda v: v.reshape(-1, 1, 1, 1, 1)  # noqa: E731
    if torch.allclose(got, per_clip(alpha2) * x + per_clip(sigma2) * eps, atol=1e-5):
        raise ExerciseError("Exercise 11.1: you used alpha² and sigma² as the weights. sigmoid(log-SNR) is "
                            "alpha², the signal's *variance*; the clip is scaled by alpha = its square root.")
    alpha = alpha2.sqrt()
    if torch.allclose(got, per_clip(alpha) * x + per_clip(1 - alpha) * eps, atol=1e-5):
        raise ExerciseError("Exercise 11.1: sigma is not 1 - alpha: the process preserves variance, "
                            "alpha² + sigma² = 1, so sigma = sqrt(sigmoid(-log_snr)).")
    expected = noised(x, t, eps)
    if not torch.allclose(got, expected, atol=1e-5):
        worst = (got - expected).abs().amax(dim=(1, 2, 3, 4))
        raise ExerciseError(f"Exercise 11.1: z_t is wrong for the clips at t = "
                            f"{[round(v, 1) for v in t[worst > 1e-5].tolist()]}. Each clip has its own t: "
                            "alpha and sigma are (B,), reshaped to (B, 1, 1, 1, 1) before they multiply.")
    passed("11.1", "z_t = alpha_t x + sigma_t eps, with alpha_t² + sigma_t² = 1, for each clip at its own t.")


@register("11.3")
def check_ddim_step(fn: Callable[[Tensor, Tensor, Tensor, Tensor], Tensor]) -> None:
    """11.3: ``ddim_step(z_t, x_hat, log_snr_t, log_snr_s) -> z_s``."""
    x, eps = _clips(112)
    log_snr_t, log_snr_s = torch.tensor([-6.0, -2.0, 0.0, 3.0]), torch.tensor([-2.0, 0.0, 3.0, 8.0])
    z_t = diffuse(x, log_snr_t, eps)
    got = call("11.3", fn, z_t, x, log_snr_t, log_snr_s)
    if not isinstance(got, Tensor) or got.shape != x.shape:
        raise ExerciseError(f"Exercise 11.3: return z_s shaped like z_t, {tuple(x.shape)}.")
    if torch.allclose(got, z_t, atol=1e-5):
        raise ExerciseError("Exercise 11.3: z_s equals z_t: the step must re-mix at the *new* noise level, "
                            "alpha_s and sigma_s from log_snr_s.")
    if torch.allclose(got, diffuse(x, log_snr_s, torch.zeros_like(x)), atol=1e-5):
        raise ExerciseError("Exercise 11.3: z_s = alpha_s x_hat drops the noise. DDIM keeps the noise that "
                            "x_hat implies, eps = (z_t - alpha_t x_hat) / sigma_t, and adds sigma_s eps.")
    if not torch.allclose(got, diffuse(x, log_snr_s, eps), atol=1e-4):
        raise ExerciseError("Exercise 11.3: given the true clip, a DDIM step must land on the same noise's "
                            "path: z_s = alpha_s x + sigma_s eps for the eps that made z_t. Compute eps from "
                            "z_t, x_hat and log_snr_t, then alpha_s, sigma_s from log_snr_s.")
    wrong = x + 0.3 * torch.randn(x.shape, generator=torch.Generator().manual_seed(7))
    if not torch.allclose(call("11.3", fn, z_t, wrong, log_snr_t, log_snr_s),
                          ddim_step(z_t, wrong, log_snr_t, log_snr_s), atol=1e-4):
        raise ExerciseError("Exercise 11.3: right for the true clip, wrong for another prediction: use the "
                            "x_hat you are given for both the implied noise and the new mix.")
    passed("11.3", "the step keeps the noise the prediction implies and re-mixes it at the lower noise "
                   "level.")


@register("11.4")
def check_guided_v(fn: Callable[..., Tensor]) -> None:
    """11.4: ``guided_v(network, z, log_snr, tokens, w)``: one conditional and one unconditional call."""
    g = torch.Generator().manual_seed(113)
    weight = torch.randn(6, generator=g)
    calls: list[Tensor] = []

    def network(z: Tensor, log_snr: Tensor, tokens: Tensor) -> Tensor:  # a toy v-network that reads tokens
        calls.append(tokens.clone())
        return z * (1 + weight[tokens].sum(dim=1)).reshape(-1, 1, 1, 1, 1) + log_snr.reshape(-1, 1, 1, 1, 1)

    z, log_snr = torch.randn(2, 3, 2, 4, 4, generator=g), torch.tensor([-1.0, 2.0])
    tokens = torch.tensor([[1, 3, 4, 2, 5], [1, 4, 3, 2, 1]])
    for w in (0.0, 1.0, 2.5):
        calls.clear()
        got = call("11.4", fn, network, z, log_snr, tokens, w)
        made = list(calls)  # the learner's calls, before the reference adds its own
        expected = guided_v(network, z, log_snr, tokens, w)
        if len(made) == 1 and w:
            raise ExerciseError("Exercise 11.4: the network ran once. Guidance needs two predictions of the "
                                "same z: with the caption, and with the empty caption.")
        if w and not any(bool((c == 0).all()) for c in made):
            raise ExerciseError("Exercise 11.4: none of the calls used the empty caption: the unconditional "
                                "prediction takes tokens of all padding (torch.zeros_like(tokens)).")
        if not isinstance(got, Tensor) or got.shape != z.shape:
            raise ExerciseError(f"Exercise 11.4: return v shaped like z, {tuple(z.shape)}.")
        if w == 0 and not torch.allclose(got, network(z, log_snr, tokens)):
            raise ExerciseError("Exercise 11.4: at w = 0 guided v must be the conditional prediction alone; "
                                "the combination is (1 + w) v_caption - w v_empty.")
        if not torch.allclose(got, expected, atol=1e-5):
            raise ExerciseError(f"Exercise 11.4: wrong at w = {w}: the combination is "
                                "(1 + w) v_caption - w v_empty (it moves away from the unconditional "
                                "prediction, past the conditional one).")
    passed("11.4", "two predictions, with the caption and with the empty caption, combined as "
                   "(1 + w) v_caption - w v_empty.")


@register("11.2")
def check_prediction_experiment(fn: Callable[[str], dict[float, float]]) -> dict[str, dict[float, float]]:
    """11.2: ``x_error_after_training(target) -> {t: mean squared error of the implied x}`` for ``"eps"``
    and ``"v"``; the check asserts the direction of the effect at the noisiest time. Returns both results."""
    results = {}
    for target in ("eps", "v"):
        got = call("11.2", fn, target)
        if not isinstance(got, dict) or not got:
            raise ExerciseError("Exercise 11.2: return a dict {t: error of the implied x} for the times "
                                "T_EVAL.")
        results[target] = {float(t): as_float("11.2", e, f"the x error of {target} at t = {t}")
                           for t, e in got.items()}
    times = sorted(results["v"])
    if sorted(results["eps"]) != times:
        raise ExerciseError("Exercise 11.2: measure both models at the same times.")
    noisiest = times[-1]
    eps_error, v_error = results["eps"][noisiest], results["v"][noisiest]
    if not eps_error > 2 * v_error:
        raise ExerciseError(f"Exercise 11.2: at t = {noisiest} the eps-model's x error is {eps_error:.4f}, "
                            f"the v-model's {v_error:.4f}. Convert each prediction to x with its own formula "
                            "(x_from_eps for eps, x_from_v for v) without clamping, on the same clips and "
                            "noise, and train both for the same steps.")
    passed("11.2", f"at t = {noisiest} the eps-model's implied x is off by {eps_error:.4f} (mean squared), "
                   f"the v-model's by {v_error:.4f}.")
    return results


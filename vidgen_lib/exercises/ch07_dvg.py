"""Checks for the exercises of notebook 07 (DVG, action-conditioned SVG-LP).

Each check calls the learner's function on known inputs, prints one ``✓`` line when it is right, and
otherwise raises ``ExerciseError`` with what is wrong and a hint. The reference answers are the
library's own: ``vidgen_lib.models.dvg`` (the free-bits charge of ``dvg_loss``, the KL schedule, the
predictor's input) and ``vidgen_lib.evaluation.dvg.agent_centroids``.
"""
from __future__ import annotations

import math
from typing import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from vidgen_lib.datasets.shapes import RGB
from vidgen_lib.evaluation.dvg import agent_centroids
from vidgen_lib.exercises import ExerciseError, as_float, as_tensor, call, passed, measure_settings, register
from vidgen_lib.models import dvg


@register("7.1")
def check_dvg_free_bits(charged_kl: Callable[[Tensor, float], Tensor]) -> None:
    """7.1: ``charged_kl(kl, free_bits)``: kl (B, T, Z), the KL per video, step and latent dimension -> the
    number the posterior is charged, sum over (t, i) of max(free_bits, the batch mean of kl[:, t, i])."""
    g = torch.Generator().manual_seed(71)
    kl = torch.rand(6, 4, 3, generator=g, dtype=torch.float64) * 0.6  # some dimensions below 0.25, some above
    got = as_float("7.1", call("7.1", charged_kl, kl, 0.25), "the charged KL")
    want = kl.mean(dim=0).clamp(min=0.25).sum().item()
    if math.isclose(got, want, rel_tol=1e-6):
        plain = as_float("7.1", call("7.1", charged_kl, kl, 0.0), "the charged KL")
        if not math.isclose(plain, kl.sum(dim=(1, 2)).mean().item(), rel_tol=1e-6):
            raise ExerciseError("Exercise 7.1: with free_bits = 0 the charge should be the plain KL, summed "
                                "over steps and dimensions and averaged over the batch.")
        passed("7.1", "each (step, dimension) is charged max(λ, its batch-mean KL); with λ = 0 the plain KL.")
        return
    slips = {kl.clamp(min=0.25).mean(dim=0).sum().item():
             "you applied the floor to each video before averaging: free bits compare λ with the KL "
             "averaged over the batch, E_batch[KL_{t,i}].",
             max(0.25, kl.mean(dim=0).sum().item()):
             "λ is a floor per latent dimension and step, not one floor for the whole sum.",
             kl.mean(dim=0).sum().item():
             "below λ a dimension is still charged λ: take max(λ, KL) per (t, i).",
             kl.sum(dim=0).clamp(min=0.25).sum().item():
             "average the KL over the batch (dim 0), do not sum it."}
    hint = next((text for value, text in slips.items() if math.isclose(got, value, rel_tol=1e-6)),
                "kl.mean(dim=0) gives (T, Z); floor it at free_bits, then sum.")
    raise ExerciseError(f"Exercise 7.1: the charged KL is {got:.4f}, expected {want:.4f}: {hint}")


@register("7.3")
def check_dvg_kl_weight(kl_weight: Callable[[int, float, int], float]) -> None:
    """7.3: ``kl_weight(step, beta, warmup_steps)``: a linear ramp from 0 to beta over warmup_steps, then
    beta."""
    cases = [(0, 1e-4, 1000), (250, 1e-4, 1000), (1000, 1e-4, 1000), (5000, 1e-4, 1000), (3, 0.5, 6),
             (7, 0.5, 0)]
    for step, beta, warmup in cases:
        got = as_float("7.3", call("7.3", kl_weight, step, beta, warmup), "the KL weight")
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
        raise ExerciseError(f"Exercise 7.3: wrong weight {where}: {hint}")
    passed("7.3", "beta rises linearly from 0 to beta over the warm-up, then stays at beta.")


@register("7.2")
def check_dvg_predictor_input(predictor_input: Callable[[Tensor, Tensor, Tensor, int], Tensor]) -> None:
    """7.2: ``predictor_input(h_prev (B, G), z (B, Z), action (B,) int, num_actions)`` -> [h, z, one-hot a],
    (B, G + Z + A)."""
    g = torch.Generator().manual_seed(74)
    h, z = torch.randn(3, 6, generator=g), torch.randn(3, 2, generator=g)
    action = torch.tensor([0, 4, 2])
    got = as_tensor("7.2", call("7.2", predictor_input, h, z, action, 5), (3, 13),
                  "the predictor's input [h_{t-1}, z_t, one_hot(a_t)]")
    want = torch.cat([h, z, F.one_hot(action, 5).float()], dim=-1)
    if torch.allclose(got.float(), want):
        passed("7.2", "the predictor sees [h_{t-1}, z_t, one_hot(a_t)], in that order.")
        return
    if torch.allclose(got[:, :6].float(), h) and torch.allclose(got[:, 6:8].float(), z):
        hint = "h and z are right, the action part is not: one_hot(action, num_actions) as floats."
    elif torch.allclose(got[:, :2].float(), z):
        hint = "the order is [h_{t-1}, z_t, action], h first."
    else:
        hint = "torch.cat([h_prev, z, F.one_hot(action, num_actions).float()], dim=-1)."
    raise ExerciseError(f"Exercise 7.2: your input is wrong: {hint}")


@register("7.4")
def check_dvg_agent_centroid(centroid: Callable[[Tensor, Tensor], Tensor]) -> None:
    """7.4: ``centroid(video, rgb)``: video (B, 3, T, H, W) in [0, 1], rgb (B, 3) the agent's colour ->
    (B, T, 2), the (y, x) centroid of the pixels within 0.5 of rgb in every channel; the frame's centre
    where there are none."""
    video = torch.full((2, 3, 3, 8, 8), 0.05)
    video[0, :, 0, 1:3, 2:5] = torch.tensor([0.95, 0.1, 0.1])[:, None, None]  # red agent, not exactly 1
    video[0, :, 1, 5:7, 4:6] = torch.tensor([0.9, 0.0, 0.0])[:, None, None]
    video[0, :, :, 3:6, 0:2] = torch.tensor([0.9, 0.9, 0.0])[:, None, None, None]  # yellow: red and green
    video[1, :, 0:2, 6:8, 6:8] = torch.tensor([0.0, 0.0, 1.0])[:, None, None, None]  # blue; frame 2 empty
    colors = torch.tensor([0, 2])  # red, blue
    rgb = torch.as_tensor(RGB, dtype=torch.float32)[colors]
    got = as_tensor("7.4", call("7.4", centroid, video, rgb), (2, 3, 2), "one (y, x) per video and frame")
    want = agent_centroids(video, colors)
    if torch.allclose(got.float(), want, atol=1e-4):
        passed("7.4", "the centroid of the agent's pixels, other shapes ignored, the centre if it is gone.")
        return
    if torch.allclose(got.float(), want.flip(-1), atol=1e-4):
        hint = "y and x are swapped: return (row, column), the order of the frame's axes."
    elif torch.allclose(got[0, 0].float(), want[0, 0], atol=1e-4) and not torch.allclose(
            got[1, 2].float(), want[1, 2], atol=1e-4):
        hint = "a frame without the agent should give the frame's centre ((H - 1) / 2, (W - 1) / 2), not NaN."
    elif not torch.allclose(got[0, 0].float(), want[0, 0], atol=1e-4):
        hint = ("a pixel is the agent's when every channel is within 0.5 of its colour: the yellow shape is "
                "not red, and 0.95 is red enough.")
    else:
        hint = "average the row and column indices of the agent's pixels in each frame."
    raise ExerciseError(f"Exercise 7.4: your centroids are wrong: {hint}")



@register("7.5")
def check_free_bits_experiment(kl_after: Callable[[float], float]) -> None:
    """7.5: ``kl_after(free_bits)``: the KL(q || p) per clip on held-out clips of a DVG trained briefly with
    that free-bits floor (and a strong KL weight); free bits must leave the posterior more KL."""
    kls = measure_settings("7.5", kl_after, (0.0, 0.25), "the KL")
    if not kls[0.25] > kls[0.0]:
        raise ExerciseError(f"Exercise 7.5: with free bits the held-out KL is {kls[0.25]:.4f}, without them "
                            f"{kls[0.0]:.4f}: free bits should keep it higher. Do both runs use the same "
                            "config, steps and seed, with only free_bits changed, and do you measure the KL "
                            "of the posterior against the prior on the held-out clips?")
    passed("7.5", f"the KL the posterior keeps is {kls[0.0]:.4f} nats per clip without free bits and "
                  f"{kls[0.25]:.4f} with λ = 0.25, after the same training.")

# --- answers with the learner's signatures, where the library has no such function: a notebook goes on
# with these while an exercise is not done yet (``use_answer``) --------------------------------------

def charged_kl(kl: Tensor, free_bits: float) -> Tensor:
    """7.1's answer: the free-bits charge of ``dvg.dvg_loss``, from the KL per video, step and dimension."""
    return kl.mean(dim=0).clamp(min=free_bits).sum()


def predictor_input(h_prev: Tensor, z: Tensor, action: Tensor, num_actions: int) -> Tensor:
    """7.2's answer: what ``DVG.predictor_step`` feeds its LSTM."""
    return torch.cat([h_prev, z, dvg.action_one_hot(action, num_actions)], dim=-1)

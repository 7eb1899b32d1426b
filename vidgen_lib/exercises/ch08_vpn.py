"""Checks for the exercises of notebook 08 (VPN, Video Pixel Networks).

Each check calls the learner's function on known inputs, prints one ``✓`` line when it is right, and
otherwise raises ``ExerciseError`` with what is wrong and a hint. The reference answers are the
library's own pieces: PixelCNN's masks in ``vidgen_lib.nn.masked`` (the ones ``vidgen_lib.models.vpn`` uses),
the multiplicative unit and the likelihood as ``vidgen_lib.models.vpn`` computes them.
"""
from __future__ import annotations

import math
from typing import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from vidgen_lib.exercises import ExerciseError, as_float, as_tensor, call, passed, measure_settings, register
from vidgen_lib.nn.masked import causal_mask as reference_mask


@register("8.1")
def check_causal_mask(causal_mask: Callable[[int, str], Tensor]) -> None:
    """8.1: ``causal_mask(kernel_size, mask_type)`` -> the (k, k) PixelCNN mask, "A" (no centre) or "B"."""
    for k in (3, 5, 7):
        want = {m: reference_mask(k, m) for m in ("A", "B")}
        got = {m: as_tensor("8.1", call("8.1", causal_mask, k, m), (k, k), f"the {k}x{k} mask {m}")
               .detach().float() for m in ("A", "B")}
        if torch.equal(got["A"], want["B"]) and torch.equal(got["B"], want["A"]):
            raise ExerciseError("Exercise 8.1: you swapped the two masks: mask A (first layer) hides the "
                                "centre, mask B (every later layer) keeps it.")
        for mask_type in ("A", "B"):
            if torch.equal(got[mask_type], want[mask_type]):
                continue
            mask, c = got[mask_type], k // 2
            if torch.equal(mask, want[mask_type].T):
                hint = ("your mask is transposed (column order): raster order goes row by row, left to "
                        "right, so the rows above and the pixels to the left on the same row are allowed.")
            elif mask[c + 1:].any():
                hint = "rows below the centre come later in raster order: they must be 0."
            elif mask[c, c + 1:].any():
                hint = ("pixels right of the centre on the same row come later in raster order: "
                        "they must be 0.")
            elif mask_type == "A" and mask[c, c] != 0:
                hint = ("mask A must hide the centre: the first layer reads pixel values, and pixel (i, j) "
                        "cannot be predicted from itself.")
            elif mask_type == "B" and mask[c, c] == 0:
                hint = ("mask B keeps the centre: after the first layer, position (i, j) holds features of "
                        "the pixels *before* (i, j), so reading it is safe, and hiding it would throw that "
                        "away.")
            else:
                hint = "every row above the centre is 1, and so is every pixel left of the centre on its row."
            raise ExerciseError(f"Exercise 8.1: wrong {k}x{k} mask {mask_type}: {hint}\nexpected\n"
                                f"{want[mask_type].int().tolist()}\ngot\n{mask.int().tolist()}")
    passed("8.1", "masks A and B are right for 3x3, 5x5 and 7x7 kernels: above and left only; "
                  "A hides the centre.")


def _mu_cases() -> tuple[Tensor, ...]:
    g = torch.Generator().manual_seed(81)
    return tuple(2 * torch.randn(2, 3, 4, 4, generator=g, dtype=torch.float64) for _ in range(5))


@register("8.2")
def check_multiplicative_unit(multiplicative_unit: Callable[..., Tensor]) -> None:
    """8.2: ``multiplicative_unit(h, g1_pre, g2_pre, g3_pre, u_pre)``, all (N, C, H, W)
    -> g1 * tanh(g2 * h + g3 * u).

    g_k = sigmoid(g_k_pre), u = tanh(u_pre): the pre-activations are what the MU's convolutions output.
    """
    h, a1, a2, a3, a4 = _mu_cases()
    got = as_tensor("8.2", call("8.2", multiplicative_unit, h, a1, a2, a3, a4), tuple(h.shape),
                    "MU(h), the shape of h").detach().double()
    s, t = torch.sigmoid, torch.tanh
    want = s(a1) * t(s(a2) * h + s(a3) * t(a4))
    if torch.allclose(got, want, atol=1e-6):
        passed("8.2", "MU(h) = g1 ⊙ tanh(g2 ⊙ h + g3 ⊙ u) with sigmoid gates and u = tanh(·).")
        return
    mistakes = [
        (s(a1) * (s(a2) * h + s(a3) * t(a4)), "the outer tanh is missing: MU = g1 ⊙ tanh(g2 ⊙ h + g3 ⊙ u)."),
        (s(a1) * t(s(a2) * h + s(a3) * a4), "u is tanh of its pre-activation: u = tanh(u_pre)."),
        (t(a1) * t(t(a2) * h + t(a3) * t(a4)),
         "the gates g1, g2, g3 use the sigmoid (values in (0, 1)), not tanh."),
        (s(a1) * t(s(a3) * h + s(a2) * t(a4)),
         "g2 and g3 are swapped: g2 gates the input h, g3 gates the update u."),
        (t(s(a2) * h + s(a3) * t(a4)), "the output gate g1 is missing: multiply the tanh by g1."),
        (s(a1) * t(s(a3) * t(a4)), "the input h itself is missing: g2 ⊙ h lets h through, as an LSTM's "
                                   "forget gate keeps the cell."),
        (s(a1) * t(a4), "that is Gated PixelCNN's gated activation; the MU also adds the gated input g2 ⊙ h "
                        "and a second gate inside the tanh."),
    ]
    hint = next((message for value, message in mistakes if torch.allclose(got, value, atol=1e-6)),
                "compute g_k = sigmoid(g_k_pre), u = tanh(u_pre), then g1 * tanh(g2 * h + g3 * u), "
                "element by element.")
    raise ExerciseError(f"Exercise 8.2: wrong MU(h): {hint}")


@register("8.3")
def check_nats_per_frame(nats_per_frame: Callable[[Tensor, Tensor], float]) -> None:
    """8.3: ``nats_per_frame(logits, targets)``: logits (B, L, T, H, W), targets (B, T, H, W) int ->
    -sum log p(targets) over pixels, averaged over the B * T frames (a float)."""
    g = torch.Generator().manual_seed(83)
    b, levels, t, size = 3, 8, 4, 5
    logits = 2 * torch.randn(b, levels, t, size, size, generator=g, dtype=torch.float64)
    targets = torch.randint(levels, (b, t, size, size), generator=g)
    got = as_float("8.3", call("8.3", nats_per_frame, logits, targets), "nats per frame")
    nll = F.cross_entropy(logits, targets, reduction="none")  # (B, T, H, W)
    want = float(nll.sum() / (b * t))
    if abs(got - want) < 1e-4 * want:
        uniform = as_float("8.3", call("8.3", nats_per_frame, torch.zeros_like(logits), targets),
                           "nats per frame")
        if abs(uniform - size * size * math.log(levels)) > 1e-4:
            raise ExerciseError("Exercise 8.3: with all logits 0 (a uniform model) you should get H·W·ln(L).")
        passed("8.3", f"random logits cost {got:.4f} nats per frame, all-zero logits (a uniform model) "
                      f"H·W·ln(L) = {uniform:.4f}.")
        return
    picked = logits.gather(1, targets[:, None]).squeeze(1)
    mistakes = [
        (-want, "the sign is flipped: return the *negative* log-likelihood, a positive number of nats."),
        (want / math.log(2), "that is in bits (log base 2); nats use the natural logarithm."),
        (float(nll.mean()), "you averaged over the pixels too: sum over the H·W pixels of a frame, then "
                            "average over the B·T frames."),
        (float(nll.sum()), "you summed over every frame of every video: divide by the number of frames B·T."),
        (float(nll.sum() / b), "that is per video: divide by all B·T frames, not by B."),
        (float(nll.sum() / t), "divide by all B·T frames, not by T."),
        (float(-picked.sum() / (b * t)), "logits are not log-probabilities: take log_softmax over the "
                                         "L levels (dim 1) before picking the target's entry."),
        (float(-logits.softmax(1).gather(1, targets[:, None]).sum() / (b * t)),
         "you used the probability p, not its logarithm: -log p = -log_softmax(logits) at the target."),
        (float(-F.log_softmax(logits, 2).gather(1, targets[:, None]).sum() / (b * t)),
         "normalise over the L levels (dim 1), not over time."),
    ]
    hint = next((message for value, message in mistakes if abs(got - value) < 1e-4 * max(1.0, abs(value))),
                "compute -log_softmax(logits, dim=1) at each target value (F.cross_entropy with "
                "reduction='none'), sum it all, and divide by B·T.")
    raise ExerciseError(f"Exercise 8.3: got {got:.4f}, expected {want:.4f}: {hint}")



@register("8.4")
def check_independent_pixels_experiment(nats_after: Callable[[bool], float]) -> None:
    """8.4: ``nats_after(independent_pixels)``: nats per frame on held-out clips of a small VPN (False) or
    its baseline (True), trained briefly from the same seed; modelling the pixels jointly must cost less."""
    nats = measure_settings("8.4", nats_after, (False, True), "nats per frame")
    if not nats[False] < nats[True]:
        raise ExerciseError(f"Exercise 8.4: the VPN costs {nats[False]:.2f} nats per frame, its baseline "
                            f"{nats[True]:.2f}: the VPN should cost less. Do both runs use the same config "
                            "(except independent_pixels), steps and seed, and do you score the same held-out "
                            "clips with the same context?")
    passed("8.4", f"on the same held-out clips the VPN costs {nats[False]:.2f} nats per frame, the baseline "
                  f"with independent pixels {nats[True]:.2f}, after the same training.")

# --- answers with the learner's signatures, where the library has no such function: a notebook goes on
# with these while an exercise is not done yet (``use_answer``) --------------------------------------

def multiplicative_unit(h: Tensor, g1_pre: Tensor, g2_pre: Tensor, g3_pre: Tensor, u_pre: Tensor) -> Tensor:
    """8.2's answer: what ``nn.multiplicative.MultiplicativeUnit`` computes from its convolutions' outputs."""
    g1, g2, g3 = torch.sigmoid(g1_pre), torch.sigmoid(g2_pre), torch.sigmoid(g3_pre)
    return g1 * torch.tanh(g2 * h + g3 * torch.tanh(u_pre))


def nats_per_frame(logits: Tensor, targets: Tensor) -> float:
    """8.3's answer: -log p of the targets, summed over pixels, per frame (as ``vpn.pixel_nll`` scores it)."""
    return float(F.cross_entropy(logits, targets, reduction="sum")) / (targets.shape[0] * targets.shape[1])

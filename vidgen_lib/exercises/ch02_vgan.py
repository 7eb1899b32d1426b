"""Checks for the exercises of notebook 02 (VGAN).

Each check calls the learner's function on known inputs, prints one ``✓`` line when it is right, and
otherwise raises ``ExerciseError`` with what is wrong and a hint. The reference answers are the
library's own functions in ``vidgen_lib.models.vgan``.
"""
from __future__ import annotations

import math
from typing import Callable

import torch
from torch import Tensor, nn

from vidgen_lib.exercises import ExerciseError, as_tensor, call, passed, measure_settings, register, seeded
from vidgen_lib.losses import discriminator_loss
from vidgen_lib.models import vgan


@register("2.2")
def check_compose(compose: Callable[[Tensor, Tensor, Tensor], Tensor]) -> None:
    """2.2: ``compose(foreground (B, C, T, H, W), mask (B, 1, T, H, W), background (B, C, H, W))``."""
    g = torch.Generator().manual_seed(21)
    b, c, t, h, w = 2, 3, 5, 4, 6
    f, m = torch.rand(b, c, t, h, w, generator=g), torch.rand(b, 1, t, h, w, generator=g)
    bg = torch.rand(b, c, h, w, generator=g)
    got = as_tensor("2.2", call("2.2", compose, f, m, bg), (b, c, t, h, w), "the clip (B, C, T, H, W)")
    want = vgan.compose(f, m, bg)
    if torch.allclose(got, want, atol=1e-6):
        passed("2.2", "G(z) = m ⊙ f + (1 − m) ⊙ b, with the background repeated over time.")
        return
    still = bg[:, :, None]
    if torch.allclose(got, (1 - m) * f + m * still, atol=1e-6):
        raise ExerciseError("Exercise 2.2: the mask weights are swapped: m = 1 must show the foreground f "
                            "and m = 0 the background b, i.e. m * f + (1 - m) * b.")
    if torch.allclose(got, m * f + still, atol=1e-6) or torch.allclose(got, m * f + (1 - m), atol=1e-6):
        raise ExerciseError("Exercise 2.2: the background term must be weighted by (1 - m): (1 - m) * b.")
    raise ExerciseError("Exercise 2.2: the clip differs from m * f + (1 - m) * b. The background is one "
                        "image (B, C, H, W): give it a time axis "
                        "(einops.repeat(b, 'b c h w -> b c t h w', t=T), or b[:, :, None]) so that every "
                        "frame shows the same background.")


@register("2.1")
def check_transposed_size(output_size: Callable[[int, int, int, int], int]) -> None:
    """2.1: ``output_size(size, kernel, stride, padding)`` of a transposed convolution along one axis."""
    cases = [(1, 4, 1, 0), (1, 2, 1, 0), (4, 4, 2, 1), (8, 4, 2, 1), (5, 3, 2, 0), (7, 5, 3, 2), (3, 3, 1, 1)]
    for size, kernel, stride, padding in cases:
        layer = nn.ConvTranspose3d(1, 1, kernel, stride, padding)
        want = layer(torch.zeros(1, 1, size, size, size)).shape[-1]
        got = call("2.1", output_size, size, kernel, stride, padding)
        if not isinstance(got, int) and not (isinstance(got, float) and got.is_integer()):
            raise ExerciseError(f"Exercise 2.1: return an integer number of positions, got {got!r}.")
        if int(got) == want:
            continue
        conv = (size + 2 * padding - kernel) // stride + 1
        if int(got) == conv and conv != want:
            raise ExerciseError("Exercise 2.1: that is the size rule of an ordinary (strided) convolution, "
                                "which shrinks its input. A transposed convolution runs it backwards: solve "
                                "size = (out + 2p - k) / s + 1 for out.")
        raise ExerciseError(f"Exercise 2.1: for size={size}, kernel={kernel}, stride={stride}, "
                            f"padding={padding} nn.ConvTranspose3d gives {want} positions, your function "
                            f"{got}. Each input step moves the kernel by the stride; the kernel adds k - 1 "
                            "positions at the end; padding removes p at each side.")
    passed("2.1", "out = (size − 1)·stride − 2·padding + kernel, checked against nn.ConvTranspose3d.")


@register("2.3")
def check_mask_penalty(mask_penalty: Callable[[Tensor, float], Tensor]) -> None:
    """2.3: ``mask_penalty(mask (B, 1, T, H, W), weight) -> scalar`` = weight · mean |m|."""
    g = torch.Generator().manual_seed(23)
    small, large = torch.rand(2, 1, 4, 8, 8, generator=g), torch.rand(4, 1, 16, 32, 32, generator=g)
    for mask in (small, large):
        got = call("2.3", mask_penalty, mask, 0.1)
        if not isinstance(got, Tensor) or got.numel() != 1:
            raise ExerciseError("Exercise 2.3: return a single number (a 0-d tensor), the penalty of the "
                                "whole batch.")
        got, want = got.item(), vgan.mask_penalty(mask, 0.1).item()
        if math.isclose(got, want, rel_tol=1e-4):
            continue
        if math.isclose(got, 0.1 * mask.abs().sum().item(), rel_tol=1e-4):
            raise ExerciseError("Exercise 2.3: you summed |m| over all pixels: then λ would have to change "
                                "with the clip and batch size. Average instead (mean), as the reference "
                                "implementation does.")
        if math.isclose(got, mask.abs().mean().item(), rel_tol=1e-4):
            raise ExerciseError("Exercise 2.3: multiply by the weight λ (the second argument).")
        if math.isclose(got, 0.1 * mask.pow(2).mean().item(), rel_tol=1e-4):
            raise ExerciseError("Exercise 2.3: that is an L2 penalty (m²); the paper's sparsity prior is "
                                "L1: |m|.")
        raise ExerciseError(f"Exercise 2.3: expected λ · mean|m| = {want:.4f}, got {got:.4f}.")
    passed("2.3", "the sparsity prior λ · mean|m| does not depend on the clip or batch size.")


@register("2.4")
def check_discriminator_step(d_step_loss: Callable[[nn.Module, Tensor, Tensor], Tensor]) -> None:
    """2.4: ``d_step_loss(D, real, fake)`` → the discriminator's loss, without gradients into G."""
    with seeded(24):
        # The paper's BatchNorm discriminator: a spectrally normalised one refines its norm estimate at
        # every call in training mode, so two calls on the same clips would differ slightly.
        config = vgan.Config(generator_widths=(8, 8, 4), discriminator_widths=(4, 8, 8)).paper()
        model = vgan.build(config)
        real = torch.rand(2, 1, 16, 32, 32)
        fake = model.generator(torch.randn(2, config.z_dim))  # carries the generator's graph
        loss = call("2.4", d_step_loss, model.discriminator, real, fake)
        if not isinstance(loss, Tensor) or loss.numel() != 1 or not loss.requires_grad:
            raise ExerciseError("Exercise 2.4: return the loss as a single tensor that D's parameters can be "
                                "differentiated through (do not call .item()).")
        want = discriminator_loss(model.discriminator(real), model.discriminator(fake.detach()))
        if not math.isclose(loss.item(), want.item(), rel_tol=1e-4):
            swapped = discriminator_loss(model.discriminator(fake), model.discriminator(real)).item()
            if math.isclose(loss.item(), swapped, rel_tol=1e-4):
                raise ExerciseError("Exercise 2.4: real and fake are swapped: "
                                    "discriminator_loss(real_logits, fake_logits).")
            raise ExerciseError("Exercise 2.4: expected discriminator_loss(D(real), D(fake)) = "
                                f"{want.item():.4f}, got {loss.item():.4f}.")
        loss.backward()
        leaked = [n for n, p in model.generator.named_parameters() if p.grad is not None]
        if leaked:
            raise ExerciseError("Exercise 2.4: the loss back-propagates into the generator (e.g. into "
                                f"{leaked[0]}): use fake.detach(), so the D step costs no generator backward "
                                "pass and the fakes can be reused for the G step.")
    passed("2.4", "the D step uses the fakes detached: no gradient reaches G.")


@register("2.5")
def check_mask_weight_experiment(mask_mean_after: Callable[[float], float]) -> None:
    """2.5: ``mask_mean_after(mask_weight)``: the mean of the generated mask of a small VGAN trained
    briefly with that sparsity weight; the heavier penalty must give the smaller mask."""
    means = measure_settings("2.5", mask_mean_after, (0.0, 1.0), "the mean mask", high=1.0)
    if not means[1.0] < means[0.0]:
        raise ExerciseError(f"Exercise 2.5: with mask_weight = 1 the mean mask is {means[1.0]:.4f}, "
                            f"without the penalty {means[0.0]:.4f}: the penalty should shrink it. Do both "
                            "runs use the same config apart from `mask_weight`, the same steps and seed, "
                            "and do you average the mask of the trained generator?")
    passed("2.5", f"the mean mask falls from {means[0.0]:.3f} (no penalty) to {means[1.0]:.3f} "
                  "(mask_weight 1) after the same training.")


# --- answers with the learner's signatures, where the library has no such function: a notebook goes on
# with these while an exercise is not done yet (``use_answer``) --------------------------------------

def output_size(size: int, kernel: int, stride: int, padding: int) -> int:
    """2.1's answer, measured: the length of a transposed convolution's output, by PyTorch itself."""
    signal, weight = torch.zeros(1, 1, size), torch.zeros(1, 1, kernel)
    return nn.functional.conv_transpose1d(signal, weight, stride=stride, padding=padding).shape[-1]


def d_step_loss(D: nn.Module, real: Tensor, fake: Tensor) -> Tensor:
    """2.4's answer: the discriminator's loss of ``vgan.training_step`` (without DiffAugment)."""
    return discriminator_loss(D(real), D(fake.detach()))

"""Checks for the exercises of notebook 09 (Vid2Vid).

Each check calls the learner's answer on known inputs, prints one ``✓`` line when it is right, and
otherwise raises ``ExerciseError`` with what is wrong and a hint. The reference answers are the
library's: ``vidgen_lib.nn.warp.warp``, ``vidgen_lib.models.vid2vid.flow_loss`` and
``FrameGenerator.forward``.
"""
from __future__ import annotations

import math
from typing import Callable

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import Tensor

from vidgen_lib.exercises import ExerciseError, as_tensor, call, passed, measure_settings, register, seeded
from vidgen_lib.models import vid2vid
from vidgen_lib.nn.warp import warp


def _flow_case(n: int = 2, size: int = 7, seed: int = 91) -> tuple[Tensor, Tensor]:
    g = torch.Generator().manual_seed(seed)
    image = torch.rand(n, 3, size, size + 2, generator=g)
    return image, (torch.rand(n, 2, size, size + 2, generator=g) - 0.5) * 4  # flows up to 2 px, fractional


@register("9.1")
def check_warp(fn: Callable[[Tensor, Tensor], Tensor]) -> None:
    """9.1: ``warp(image (N, C, H, W), flow (N, 2, H, W))``: pixel p takes the value at p + flow(p)."""
    image, flow = _flow_case()
    got = as_tensor("9.1", call("9.1", fn, image, flow), tuple(image.shape), "the warped image (N, C, H, W)")
    if torch.allclose(got, warp(image, flow), atol=1e-5):
        passed("9.1", "each pixel fetches its value from p + flow(p), bilinearly, (dx, dy) in pixels.")
        return
    slips = {"the flow is subtracted: backward warping reads the source at p + flow(p), not p - flow(p).":
             warp(image, -flow),
             "x and y are swapped: channel 0 of the flow is the horizontal shift dx, and grid_sample's grid "
             "wants (x, y) in its last dimension.": warp(image, flow.flip(1))}
    for hint, wrong in slips.items():
        if torch.allclose(got, wrong, atol=1e-5):
            raise ExerciseError(f"Exercise 9.1: {hint}")
    zero = call("9.1", fn, image, torch.zeros_like(flow))
    if not torch.allclose(zero, image, atol=1e-5):
        raise ExerciseError("Exercise 9.1: a zero flow must give the image back. With align_corners=True, "
                            "pixel x sits at 2 x / (W - 1) - 1 in grid_sample's [-1, 1] coordinates "
                            "(and y at 2 y / (H - 1) - 1).")
    raise ExerciseError("Exercise 9.1: a zero flow gives the image back, but other flows do not match: "
                        "add the flow in pixels before normalising to [-1, 1], and use mode='bilinear', "
                        "padding_mode='border', align_corners=True.")


@register("9.3")
def check_flow_loss(fn: Callable[[Tensor, Tensor, Tensor, Tensor], Tensor]) -> None:
    """9.3: ``flow_loss(flow, true_flow, previous, current)``:
    |w - w_true|_1 + |warp(previous, w) - current|_1, each term a mean."""
    image, flow = _flow_case(seed=92)
    true_flow = flow.round()
    current = warp(image, true_flow)
    got = call("9.3", fn, flow, true_flow, image, current)
    if not isinstance(got, Tensor) or got.numel() != 1:
        raise ExerciseError("Exercise 9.3: return one number (a 0-dim tensor): the sum of two mean L1 terms.")
    want = vid2vid.flow_loss(flow, true_flow, image, current)
    if math.isclose(float(got), float(want), rel_tol=1e-5):
        grad_check = flow.clone().requires_grad_(True)
        loss = call("9.3", fn, grad_check, true_flow, image, current)
        if not loss.requires_grad:
            raise ExerciseError("Exercise 9.3: the loss must stay differentiable in the flow (no .item() or "
                                "torch.no_grad inside): the generator learns its flow from it.")
        passed("9.3", "L_W = |w - w_true|_1 + |warp(x_{t-1}, w) - x_t|_1: the flow matches the truth and "
                      "carries the real previous frame onto the current one.")
        return
    endpoint, warped = F.l1_loss(flow, true_flow), F.l1_loss(warp(image, flow), current)
    slips = {"only the flow term: add the warping term |warp(previous, w) - current|.": endpoint,
             "only the warping term: add the flow term |w - w_true|.": warped,
             "you warped the current frame: the flow of frame t says where its pixels were in frame t - 1, "
             "so warp the previous frame and compare with the current one.":
                 endpoint + F.l1_loss(warp(current, flow), image),
             "sums instead of means: average each L1 term over its elements (F.l1_loss does).":
                 (flow - true_flow).abs().sum() + (warp(image, flow) - current).abs().sum()}
    for hint, wrong in slips.items():
        if math.isclose(float(got), float(wrong), rel_tol=1e-5):
            raise ExerciseError(f"Exercise 9.3: {hint}")
    raise ExerciseError(f"Exercise 9.3: got {float(got):.4f}, expected {float(want):.4f}: the sum of two "
                        "mean absolute errors, one between the flows, one between warp(previous, flow) and "
                        "current.")


@register("9.2")
def check_generator_step(fn: Callable[..., tuple[Tensor, Tensor, Tensor, Tensor]]) -> None:
    """9.2: ``generator_step(generator, maps, past) -> (frame, flow, mask, hallucinated)``, built from the
    generator's modules, equal to ``FrameGenerator.forward``."""
    config = vid2vid.Config(width=8, blocks=1)
    with seeded(93):
        generator = vid2vid.FrameGenerator(config).eval()
        labels = torch.randint(0, 4, (2, 3, 32, 32))  # (N, L + 1, H, W): three maps per example
        maps = rearrange(F.one_hot(labels, 4).float(), "n l h w k -> n (l k) h w")
        past = torch.rand(2, 2, 3, 32, 32) * 2 - 1
    with torch.no_grad():
        want = generator(maps, past)
        got = call("9.2", fn, generator, maps, past)
    if not isinstance(got, tuple) or len(got) != 4:
        raise ExerciseError("Exercise 9.2: return the tuple (frame, flow, mask, hallucinated).")
    frame, flow, mask, hallucinated = got
    shapes = {"frame": (frame, (2, 3, 32, 32)), "flow": (flow, (2, 2, 32, 32)),
              "mask": (mask, (2, 1, 32, 32)), "hallucinated": (hallucinated, (2, 3, 32, 32))}
    for name, (value, shape) in shapes.items():
        as_tensor("9.2", value, shape, name)
    if not torch.allclose(hallucinated, want.hallucinated, atol=1e-5):
        raise ExerciseError("Exercise 9.2: the hallucinated frame differs: encode the maps and the past "
                            "frames (stacked along channels, '(l c)'), add the two codes, run the trunk, "
                            "then the image branch.")
    if not (torch.allclose(flow, want.flow, atol=1e-5) and torch.allclose(mask, want.mask, atol=1e-5)):
        raise ExerciseError("Exercise 9.2: the flow or the mask differs: both come from the flow branch's "
                            "features, through flow_head and mask_head.")
    if torch.allclose(frame, vid2vid.compose(warp(past[:, 0], flow), hallucinated, mask), atol=1e-5):
        raise ExerciseError("Exercise 9.2: you warped the oldest past frame: x_t is built from the newest, "
                            "past[:, -1] (x_{t-1}).")
    if torch.allclose(frame, vid2vid.compose(hallucinated, warp(past[:, -1], flow), mask), atol=1e-5):
        raise ExerciseError("Exercise 9.2: the mask weights are swapped: m = 1 means 'hallucinate', so "
                            "x = (1 - m) * warped + m * hallucinated.")
    if not torch.allclose(frame, want.frame, atol=1e-5):
        raise ExerciseError("Exercise 9.2: the frame differs from (1 - m) * warp(x_{t-1}, w) + m * h.")
    passed("9.2", "two encoders summed, a residual trunk, an image branch and a flow/mask branch, composed "
                  "by Eq. 4.")


@register("9.4")
def check_flow_weight_experiment(flow_error_after: Callable[[float], float]) -> None:
    """9.4: ``flow_error_after(flow_weight)``: the mean flow error |w - w_true| on held-out clips of a small
    model trained briefly with that flow-loss weight; the flow loss must lower it."""
    errors = measure_settings("9.4", flow_error_after, (0.0, 10.0), "the flow error")
    if not errors[10.0] < errors[0.0]:
        raise ExerciseError(f"Exercise 9.4: with the flow loss the flow error is {errors[10.0]:.4f}, without "
                            f"it {errors[0.0]:.4f}: the loss should lower it. Do both runs use the same "
                            "steps and seed, and do you measure |w - w_true| on held-out clips?")
    passed("9.4", f"the flow error falls from {errors[0.0]:.3f} px (no flow loss) to {errors[10.0]:.3f} px "
                  "(weight 10) after the same training.")

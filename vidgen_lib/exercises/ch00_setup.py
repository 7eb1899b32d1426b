"""Checks for notebook 00 (setup and the video world)."""
from __future__ import annotations

from collections.abc import Callable

import torch

from vidgen_lib.exercises import ExerciseError, call, passed, register


@register("0.1")
def check_course_convention(to_course_convention: Callable[[torch.Tensor], torch.Tensor]) -> None:
    """0.1: ``(B, T, H, W, C)`` uint8 in 0..255 -> ``(B, C, T, H, W)`` float32 in [0, 1]."""
    b, t, h, w, c = 2, 5, 4, 6, 3  # all different, so a wrong axis order shows in the shape
    frames = torch.randint(0, 256, (b, t, h, w, c), generator=torch.Generator().manual_seed(0),
                           dtype=torch.uint8)
    frames[0, 0, 0, 0, 0] = 255
    out = call("0.1", to_course_convention, frames.clone())
    if not isinstance(out, torch.Tensor):
        raise ExerciseError(f"Exercise 0.1: return a torch.Tensor, got {type(out).__name__}.")
    if tuple(out.shape) != (b, c, t, h, w):
        raise ExerciseError(f"Exercise 0.1: for frames of shape {(b, t, h, w, c)} the result should have "
                            f"shape (B, C, T, H, W) = {(b, c, t, h, w)}, got {tuple(out.shape)}: check the "
                            "order of the axes in your pattern ('b t h w c -> b c t h w').")
    if out.dtype != torch.float32:
        raise ExerciseError(f"Exercise 0.1: the result should be float32, got {out.dtype}: use .float().")
    if out.max() > 1.0 + 1e-6:
        raise ExerciseError(f"Exercise 0.1: values should lie in [0, 1], "
                            f"the maximum is {out.max().item():.1f}: divide by 255.")
    want = frames.permute(0, 4, 1, 2, 3).float() / 255
    if not torch.allclose(out, want, atol=1e-6):
        raise ExerciseError("Exercise 0.1: the shape and range are right but the pixels are in the wrong "
                            "places: did you reshape (view/reshape) instead of moving the axes "
                            "(rearrange/permute)?")
    passed("0.1", "(B, T, H, W, C) uint8 frames become (B, C, T, H, W) float32 in [0, 1].")


# --- the answer with the learner's signature: notebook 00 goes on with it while the exercise is not done
# yet (``use_answer``) --------------------------------------------------------------------------------

def to_course_convention(frames: torch.Tensor) -> torch.Tensor:
    """0.1's answer: ``(B, T, H, W, C)`` uint8 frames as ``(B, C, T, H, W)`` float32 in [0, 1]."""
    return frames.permute(0, 4, 1, 2, 3).float() / 255

"""Checks for the exercises of notebook 03 (MoCoGAN).

Each check calls the learner's function on known inputs, prints one ``✓`` line when it is right, and
otherwise raises ``ExerciseError`` with what is wrong and a hint. The reference answers are the
library's own functions in ``vidgen_lib.models.mocogan``.
"""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import Tensor, nn

from vidgen_lib.exercises import ExerciseError, as_tensor, call, passed, measure_settings, register
from vidgen_lib.models import mocogan


@register("3.1")
def check_frame_latents(frame_latents: Callable[..., Tensor]) -> None:
    """3.1: ``frame_latents(z_content (B, Dc), z_motion (B, T, Dm)) -> (B, T, Dc + Dm)``."""
    g = torch.Generator().manual_seed(31)
    b, t, dc, dm = 3, 5, 4, 2
    z_content, z_motion = torch.randn(b, dc, generator=g), torch.randn(b, t, dm, generator=g)
    got = call("3.1", frame_latents, z_content, z_motion)
    if isinstance(got, Tensor) and tuple(got.shape) == (b * t, dc + dm):
        raise ExerciseError("Exercise 3.1: keep the time axis: return (B, T, D), one latent per frame of "
                            "each video, not (B * T, D); the generator flattens later.")
    got = as_tensor("3.1", got, (b, t, dc + dm), "the latents (B, T, dim_content + dim_motion)")
    want = mocogan.frame_latents(z_content, z_motion)
    if not torch.allclose(got, want):
        if torch.allclose(got, torch.cat([z_motion, want[..., :dc]], dim=-1)):
            raise ExerciseError("Exercise 3.1: the parts are in the wrong order: put z_C first, then z_M(t).")
        if torch.allclose(got[..., dc:], z_motion) and not torch.allclose(got[..., :dc], want[..., :dc]):
            raise ExerciseError(
                "Exercise 3.1: the motion part is right but frame t of video b does not carry video b's "
                "content code. Repeat each video's z_C over its own frames (einops: 'b d -> b t d'); tiling "
                "the whole batch (e.g. z_content.repeat(t, 1) then a reshape) hands videos each other's "
                "content.")
        raise ExerciseError("Exercise 3.1: the latents differ from [z_C repeated over time, z_M(t)] "
                            "(concatenated on the last axis).")
    passed("3.1", "each frame's latent is [z_C, z_M(t)], with z_C shared by the whole video.")


@register("3.2")
def check_motion_codes(motion_codes: Callable[..., Tensor]) -> None:
    """3.2: ``motion_codes(gru, h0 (B, Dm), noise (B, T, Dm)) -> (B, T, Dm)`` = h_1 .. h_T."""
    torch.manual_seed(32)
    b, t, dm = 4, 6, 3
    gru = nn.GRUCell(dm, dm)
    h0, noise = torch.randn(b, dm), torch.randn(b, t, dm)
    with torch.no_grad():
        got = call("3.2", motion_codes, gru, h0, noise)
        got = as_tensor("3.2", got, (b, t, dm), "the motion codes (B, T, dim_motion)")
        want = mocogan.motion_codes(gru, h0, noise)
        if torch.allclose(got, want, atol=1e-6):
            passed("3.2", "z_M(t) = h_t with h_t = GRU(ε_t, h_{t-1}), for t = 1..T.")
            return
        if torch.allclose(got[:, 0], h0) and torch.allclose(got[:, 1:], want[:, :-1], atol=1e-6):
            raise ExerciseError("Exercise 3.2: off by one: you returned h_0 .. h_{T-1}. h_0 only starts the "
                                "GRU; frame t gets h_t, so return h_1 .. h_T.")
        from_h0 = gru(rearrange(noise, "b t d -> (b t) d"), h0.repeat_interleave(t, 0))  # every step from h_0
        if torch.allclose(got, rearrange(from_h0, "(b t) d -> b t d", b=b), atol=1e-6):
            raise ExerciseError("Exercise 3.2: every step starts again from h_0. Feed each step the previous "
                                "state: h = gru(noise[:, t], h).")
        if torch.allclose(got, mocogan.motion_codes(gru, h0, noise[:, :1].expand(-1, t, -1)), atol=1e-6):
            raise ExerciseError("Exercise 3.2: every step reuses ε_1. Use noise[:, t] at step t: the fresh "
                                "noise is what lets the motion differ from video to video.")
    raise ExerciseError("Exercise 3.2: the codes differ from h_1 .. h_T of h_t = gru(noise[:, t], h_{t-1}) "
                        "started at h0.")


@register("3.3")
def check_sample_frames(sample_frames: Callable[..., Tensor]) -> None:
    """3.3: ``sample_frames(videos (B, C, T, H, W), n) -> (n, C, H, W)``: distinct random frames."""
    b, c, t, h, w, n = 4, 3, 5, 6, 6, 7
    # Every (video, time) pair gets its own frame pattern, so a frame can be traced back to its origin.
    videos = torch.randn(b, c, t, h, w, requires_grad=True)
    frames = rearrange(videos.detach(), "b c t h w -> (b t) c h w")
    torch.manual_seed(33)
    picks = []
    for _ in range(3):
        got = as_tensor("3.3", call("3.3", sample_frames, videos, n), (n, c, h, w), "the frames (n, C, H, W)")
        match = (got.detach()[:, None] - frames[None]).abs().flatten(2).amax(-1) < 1e-6  # (n, B*T)
        if not match.any(1).all():
            raise ExerciseError(
                "Exercise 3.3: some returned frames are not frames of the videos: their channels mix "
                "different times. Move T next to B before flattening: "
                "rearrange(videos, 'b c t h w -> (b t) c h w'), not videos.reshape(-1, C, H, W).")
        picked = match.float().argmax(1)
        if len(set(picked.tolist())) < n:
            raise ExerciseError("Exercise 3.3: the same frame was drawn twice: sample without replacement "
                                "(torch.randperm(B * T)[:n]).")
        picks.append(tuple(picked.tolist()))
    if len(set(picks)) == 1:
        raise ExerciseError("Exercise 3.3: three calls returned the same frames. D_I must see frames from "
                            "random videos at random times, drawn anew every call.")
    if not got.requires_grad:
        raise ExerciseError("Exercise 3.3: the frames are cut off from the graph (detached): G's loss on D_I "
                            "must back-propagate through them into the generator.")
    passed("3.3", "D_I sees n distinct frames, drawn at random from all videos and times.")


@register("3.4")
def check_generator_loss(generator_loss: Callable[[Tensor, Tensor], Tensor]) -> None:
    """3.4: ``generator_loss(image_logits, video_logits) -> scalar`` = image GAN term + video GAN term."""
    g = torch.Generator().manual_seed(34)
    image_logits = torch.randn(8, 1, 2, 2, generator=g)
    video_logits = torch.randn(5, 1, 4, 1, 1, generator=g) + 1
    got = call("3.4", generator_loss, image_logits, video_logits)
    if not isinstance(got, Tensor) or got.numel() != 1:
        raise ExerciseError("Exercise 3.4: return one number (a 0-dim tensor): average each term over its "
                            "logits.")
    got = got.float().reshape(())
    want = mocogan.generator_loss(image_logits, video_logits)
    bce = F.binary_cross_entropy_with_logits
    image_term = bce(image_logits, torch.ones_like(image_logits))
    video_term = bce(video_logits, torch.ones_like(video_logits))
    if torch.allclose(got, want, atol=1e-5):
        passed("3.4", "G's loss is -mean log D_I(fake frames) - mean log D_V(fake videos).")
        return
    saturating = -(bce(image_logits, torch.zeros_like(image_logits))
                   + bce(video_logits, torch.zeros_like(video_logits)))
    hints = [
        (image_term, "only the image term: add the video discriminator's term, G must fool both."),
        (video_term, "only the video term: add the image discriminator's term, G must fool both."),
        (saturating, "the saturating loss mean log(1 - D): use the non-saturating -mean log D, i.e. BCE with "
                     "the label 'real' (ones)."),
        (-saturating, "the labels 'fake' (zeros): that is the discriminator's view. G wants its fakes called "
                      "real: BCE against ones."),
        (image_term * image_logits.numel() + video_term * video_logits.numel(),
         "sums over logits: average each term (the mean), as BCEWithLogits does by default."),
    ]
    for value, hint in hints:
        if torch.allclose(got, value, atol=1e-5):
            raise ExerciseError(f"Exercise 3.4: you computed {hint}")
    raise ExerciseError(f"Exercise 3.4: got {got.item():.4f}, expected {want.item():.4f} = "
                        "BCE(image logits, 1) + BCE(video logits, 1).")


@register("3.5")
def check_motion_code_experiment(frame_change_after: Callable[[int], float]) -> None:
    """3.5: ``frame_change_after(dim_motion)``: the mean absolute difference between consecutive frames of
    samples of a MoCoGAN trained briefly with a motion code of that size; a larger code must let them
    differ more."""
    changes = measure_settings("3.5", frame_change_after, (1, 10), "the frame change")
    if not changes[10] > changes[1]:
        raise ExerciseError(f"Exercise 3.5: with a 10-d motion code consecutive frames differ by "
                            f"{changes[10]:.4f}, with a 1-d one by {changes[1]:.4f}: the larger code should "
                            "let them differ more. Do both runs use the same steps and seed, with only "
                            "dim_motion changed, and do you compare frame t + 1 with frame t of each sample?")
    passed("3.5", f"consecutive frames differ by {changes[1]:.4f} on average with a 1-d motion code and by "
                  f"{changes[10]:.4f} with 10 dimensions, after the same training.")

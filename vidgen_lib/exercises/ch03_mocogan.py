"""Checks for the exercises of notebook 03 (MoCoGAN).

Each check calls the learner's function on known inputs, prints one ``✓`` line when it is right, and
otherwise raises ``ExerciseError`` with what is wrong and a hint. The reference answers are the
library's own functions in ``vidgen_lib.models.mocogan``; for 3.6 (the video discriminator as a module)
``VideoDiscriminator`` at the bottom of this module, the library's D_V without its instance noise, which
``copy_conv_weights`` fills with the library's (or the shipped checkpoint's) weights.
"""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import Tensor, nn

from vidgen_lib.exercises import ExerciseError, as_tensor, call, passed, measure_settings, register, seeded
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


# --- 3.6: the video discriminator D_V as a module ----------------------------------------------------

_CONVS = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)


def convolutions(module: nn.Module) -> list[nn.Module]:
    """The convolutions of a module, in the order ``modules()`` lists them (the order of a Sequential)."""
    return [m for m in module.modules() if isinstance(m, _CONVS)]


def copy_conv_weights(target: nn.Module, source: nn.Module) -> nn.Module:
    """Load ``source``'s convolutions, one by one in order, into ``target``'s (both spectrally normalised
    the same way): a D_V built by hand holds the library's weights, whatever its modules are named.
    Returns ``target``."""
    pairs = list(zip(convolutions(target), convolutions(source), strict=True))
    for mine, theirs in pairs:
        mine.load_state_dict(theirs.state_dict())
    return target


def _conv_spec(conv: nn.Module) -> dict:
    kind = next(cls.__name__ for cls in _CONVS if isinstance(conv, cls))  # spectral_norm renames the class
    return {"type": kind, "in": conv.in_channels, "out": conv.out_channels,
            "kernel": tuple(conv.kernel_size), "stride": tuple(conv.stride), "padding": tuple(conv.padding),
            "bias": conv.bias is not None}


def _spec_mistake(i: int, n: int, got: dict, want: dict) -> str | None:
    """What is wrong with the learner's i-th of n convolutions, or None if it matches the library's."""
    layer = f"convolution {i + 1} of {n}"
    if got["type"] != want["type"]:
        if got["type"] in ("Conv2d", "Conv1d"):
            return (f"{layer} is a {got['type']}: a 2-D convolution judges each frame on its own, as D_I "
                    "does. D_V is the *video* discriminator: nn.Conv3d over (T, H, W), so that it sees "
                    "frames together and can judge the motion.")
        return f"{layer} is a {got['type']}: D_V uses nn.Conv3d (a discriminator only shrinks its input)."
    if (got["in"], got["out"]) != (want["in"], want["out"]):
        return (f"{layer} maps {got['in']} -> {got['out']} channels, expected {want['in']} -> {want['out']}: "
                "the widths are channels -> width -> 2 width -> 4 width, then 4 width -> 1 logit.")
    if got["kernel"] != want["kernel"]:
        if got["kernel"][0] == 1:
            return (f"{layer} has a kernel of one frame: it never sees two frames together, so D_V could not "
                    "judge motion. Use kernel_size=4 in time too.")
        return f"{layer} has kernel {got['kernel']}, expected {want['kernel']} (kernel_size=4)."
    if got["stride"] != want["stride"]:
        if i < n - 1 and got["stride"][0] != 1:
            return (f"{layer} has stride {got['stride']}: it halves time as well. D_V keeps every frame: "
                    "stride (1, 2, 2) halves only H and W, and the kernel trims 3 frames per layer.")
        return f"{layer} has stride {got['stride']}, expected {want['stride']}."
    if got["padding"] != want["padding"]:
        if i < n - 1 and got["padding"][0] != 0:
            return (f"{layer} pads time ({got['padding']}): pad only space, padding (0, 1, 1), so that time "
                    "goes 16 -> 13 -> 10 -> 7 -> 4.")
        return f"{layer} has padding {got['padding']}, expected {want['padding']}."
    if got["bias"] != want["bias"]:
        return (f"{layer} has no bias: keep bias=True. With spectral normalisation and no biases, "
                "D(a·x) = a·D(x) for a > 0, and an all-grey clip gets the logit 0 whatever it shows.")
    return None


def _forward_with(convs: list[nn.Module], x: Tensor, act: Callable[[Tensor], Tensor],
                  last: Callable[[Tensor], Tensor] = lambda y: y) -> Tensor:
    """The library's convolutions run in order with another activation between them (and after the last)."""
    for conv in convs[:-1]:
        x = act(conv(x))
    return last(convs[-1](x))


@register("3.6")
def check_video_discriminator(video_discriminator: Callable[[int, int], nn.Module]) -> None:
    """3.6: ``VideoDiscriminator(channels, width)``: clips (B, C, 16, 32, 32) -> logits (B, 1, 4, 1, 1),
    with the library's layout, so that it can hold the library's weights."""
    b = 2
    for channels, width in ((1, 4), (3, 2)):
        with seeded(36):
            mine = call("3.6", video_discriminator, channels, width)
            if not isinstance(mine, nn.Module):
                raise ExerciseError("Exercise 3.6: VideoDiscriminator(channels, width) should build an "
                                    f"nn.Module, got {type(mine).__name__}.")
            library = mocogan.VideoDiscriminator(mocogan.Config(channels=channels, video_disc_width=width))
            clips = torch.rand(b, channels, 16, 32, 32) * 2 - 1
        got_convs, want_convs = convolutions(mine), convolutions(library)
        if len(got_convs) != len(want_convs):
            raise ExerciseError(
                f"Exercise 3.6: your module has {len(got_convs)} convolutions, the library's D_V "
                f"{len(want_convs)}: three stride-(1, 2, 2) layers take 32x32 frames down to 4x4, and a "
                "last kernel-4 convolution gives the logits. (Register them as submodules, e.g. in an "
                "nn.Sequential, so that they are the module's parameters.)")
        for i, (got, want) in enumerate(zip(got_convs, want_convs)):
            problem = _spec_mistake(i, len(got_convs), _conv_spec(got), _conv_spec(want))
            if problem:
                raise ExerciseError(f"Exercise 3.6: {problem}")
            if not nn.utils.parametrize.is_parametrized(got, "weight"):
                raise ExerciseError(
                    f"Exercise 3.6: convolution {i + 1} is not spectrally normalised: wrap every convolution "
                    "in nn.utils.parametrizations.spectral_norm(...), as the library does (section 3).")
        n_mine, n_library = (sum(p.numel() for p in m.parameters()) for m in (mine, library))
        if n_mine != n_library:
            raise ExerciseError(f"Exercise 3.6: your module has {n_mine:,} parameters, the library's D_V "
                                f"{n_library:,}, with the same convolutions: is there an extra layer with "
                                "weights (a norm layer, a linear head)? D_V is convolutions and LeakyReLUs.")
        copy_conv_weights(mine, library)  # the same weights: now the outputs must agree
        mine.eval(), library.eval()
        with torch.no_grad():
            out = call("3.6", mine, clips)
            want = library(clips)
        if isinstance(out, Tensor) and out.numel() == b and tuple(out.shape) != tuple(want.shape):
            raise ExerciseError(f"Exercise 3.6: your D_V returns shape {tuple(out.shape)}: keep the logits "
                                f"as the last convolution gives them, {tuple(want.shape)}; the loss averages "
                                "them.")
        out = as_tensor("3.6", out, tuple(want.shape), "the logits (B, 1, t, h, w)")
        if not torch.allclose(out, want, atol=1e-5):
            leaky = lambda slope: (lambda y: F.leaky_relu(y, slope))  # noqa: E731
            variants = [
                (_forward_with(want_convs, clips, leaky(0.01)),
                 "LeakyReLU with slope 0.01 (nn.LeakyReLU()'s default): use nn.LeakyReLU(0.2)."),
                (_forward_with(want_convs, clips, F.relu), "ReLU: use LeakyReLU(0.2), which lets a gradient "
                 "through negative activations too."),
                (_forward_with(want_convs, clips, lambda y: y),
                 "no activations: the layers then compose to one linear map. Put LeakyReLU(0.2) after every "
                 "convolution but the last."),
                (_forward_with(want_convs, clips, leaky(0.2), leaky(0.2)),
                 "an activation after the last convolution: return its output as it is, a logit can be any "
                 "real number."),
                (_forward_with(want_convs, clips, leaky(0.2), torch.sigmoid),
                 "a sigmoid at the end: return logits, the losses apply the sigmoid (or the hinge) "
                 "themselves."),
            ]
            with torch.no_grad():
                hint = next((h for value, h in variants if torch.allclose(out, value, atol=1e-5)), None)
            raise ExerciseError("Exercise 3.6: with the library's weights loaded your D_V gives other logits "
                                "than the library's: " + (hint or "run the convolutions in order, with "
                                                          "LeakyReLU(0.2) after every one but the last."))
    with torch.no_grad():
        shuffled = mine(clips[:, :, torch.randperm(16, generator=torch.Generator().manual_seed(3))])
    if torch.allclose(shuffled, out, atol=1e-4):
        raise ExerciseError("Exercise 3.6: shuffling the frames of a clip does not change your logits: "
                            "D_V must see the order of the frames.")
    mine.train()
    with seeded(37):
        call("3.6", mine, clips).mean().backward()
    dead = [name for name, p in mine.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    if dead:
        raise ExerciseError(f"Exercise 3.6: no gradient reaches {dead[0]}: is every layer used in forward?")
    passed("3.6", "D_V maps clips (B, C, 16, 32, 32) to logits (B, 1, 4, 1, 1) with the library's layout and "
                  "weights; shuffled frames change its logits; every parameter gets a gradient.")


class VideoDiscriminator(nn.Module):
    """3.6's answer: D_V for 32x32 frames, the library's ``mocogan.VideoDiscriminator`` without its
    instance noise (off by default): the same convolutions, in the same order."""

    def __init__(self, channels: int = 1, width: int = 16) -> None:
        super().__init__()
        sn = nn.utils.parametrizations.spectral_norm
        widths = [channels, width, 2 * width, 4 * width]
        layers: list[nn.Module] = []
        for c_in, c_out in zip(widths, widths[1:]):  # space halves, time loses 3 frames
            layers += [sn(nn.Conv3d(c_in, c_out, 4, stride=(1, 2, 2), padding=(0, 1, 1))), nn.LeakyReLU(0.2)]
        layers.append(sn(nn.Conv3d(4 * width, 1, 4)))  # 4x4 -> 1x1: one logit per temporal position
        self.net = nn.Sequential(*layers)

    def forward(self, videos: Tensor) -> Tensor:
        """Clips (B, C, 16, 32, 32) in [-1, 1] -> logits (B, 1, 4, 1, 1)."""
        return self.net(videos)

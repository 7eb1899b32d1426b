"""Applications of the course's shipped models, measured: a prediction league, interpolation and editing.

1. **Prediction league** (:func:`prediction_league`): every predictor continues held-out clips of its own
   world; PSNR and SSIM at each future step, next to two baselines measured on the same clips:
   copy-last-frame and linear extrapolation of the pixels.
2. **Interpolation** (:func:`interpolate`): the shipped diffusion model fills the middle frames of a clip
   from its first and last ones, by the *replacement method* of Ho et al., "Video Diffusion Models",
   NeurIPS 2022, Sec. 3.1, alone or with the same section's *reconstruction guidance*; against
   :func:`linear_blend`, a cross-fade of the two ends.
3. **Editing** (:func:`edit`): the same noise drawn again under a caption with one attribute changed,
   against drawing the new caption from other noise.

Where a shape is: :func:`centroids`, the centre of what a frame shows, in pixels.
Taught in ``notebooks/12_applications.ipynb``.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from einops import einsum, rearrange
from torch import Tensor

from vidgen_lib import models
from vidgen_lib.datasets import video_batch
from vidgen_lib.datasets.shapes import caption
from vidgen_lib.evaluation.diffusion import ATTRIBUTES, heldout_captions, judged_attributes
from vidgen_lib.metrics import copy_last_frame, psnr, ssim
from vidgen_lib.models import diffusion
from vidgen_lib.models.diffusion import VideoDiffusion, tokenize
from vidgen_lib.nn.diffusion import alpha_sigma, ddim_sample, diffuse, guided, x_from_v
from vidgen_lib.runtime import eval_mode, model_device, rng
from vidgen_lib.video import from_signed, to_signed, validate_clip, validate_video

__all__ = ["PREDICTORS", "LEAGUE_CLIPS", "FUTURE_GIVEN", "copy_last", "linear_extrapolation", "step_scores",
           "prediction_league", "league_table", "interpolate", "linear_blend", "centroids",
           "interpolation_scores", "edit", "editing_scores", "RECONSTRUCTION_WEIGHT", "VISIBLE"]

#: The shipped predictors, and what each is told about the future besides its context frames.
PREDICTORS = ("tdvae", "dvg", "vpn", "vpn_independent", "vid2vid", "vid2vid_no_warp")
FUTURE_GIVEN = {"dvg": "actions", "vid2vid": "label maps", "vid2vid_no_warp": "label maps"}
#: At most this many clips: VPN draws its frames pixel by pixel (~0.4 s a clip on one thread); its
#: baseline network is measured on the same clips.
LEAGUE_CLIPS = {"vpn": 16, "vpn_independent": 16}
#: Defaults of the diffusion measurements: each call at most about 15 s on one CPU thread.
INTERPOLATION_CLIPS, INTERPOLATION_STEPS = 16, 10
RECONSTRUCTION_WEIGHT = 10.0  # w_r of reconstruction guidance: 3 leaves clips off the path, 30 overshoots
EDIT_CLIPS, EDIT_STEPS = 18, 10  # 18: three pairs of clips per attribute
VISIBLE = 0.5  # a pixel belongs to a visible shape when its brightest channel is above this


# --- 1. the prediction league ----------------------------------------------------------------------

def copy_last(context: Tensor, horizon: int) -> Tensor:
    """The last context frame, repeated: ``(B, C, Tc, H, W)`` -> ``(B, C, horizon, H, W)`` in [0, 1]."""
    return copy_last_frame(context, horizon)


def linear_extrapolation(context: Tensor, horizon: int) -> Tensor:
    """Every pixel keeps its last change: ``x_{T+k} = clip(x_T + k (x_T - x_{T-1}), 0, 1)``, k = 1..horizon.

    Args:
        context: ``(B, C, Tc, H, W)`` in [0, 1], Tc >= 1. With one frame there is no change to extend, and
            the result is :func:`copy_last`'s.
        horizon: frames to predict, >= 1.
    Returns:
        ``(B, C, horizon, H, W)`` in [0, 1].
    """
    validate_video(context, "context")
    if horizon < 1:
        raise ValueError(f"horizon must be >= 1; got {horizon}.")
    last = context[:, :, -1:]
    change = last - context[:, :, -2:-1] if context.shape[2] > 1 else torch.zeros_like(last)
    k = rearrange(torch.arange(1, horizon + 1, dtype=context.dtype, device=context.device), "t -> 1 1 t 1 1")
    return (last + k * change).clamp(0.0, 1.0)


def step_scores(prediction: Tensor, future: Tensor) -> dict[str, Tensor]:
    """PSNR and SSIM at each future step: ``{"psnr", "ssim"}`` -> ``(H,)`` float64.

    PSNR is pooled over the clips (the MSE of all of them at step k: finite unless every clip is exact, as
    in the model cards); SSIM is the mean over the clips. Both videos ``(B, C, H, height, width)``, H steps.
    """
    steps = range(future.shape[2])
    return {"psnr": torch.stack([psnr(prediction[:, :, [k]], future[:, :, [k]], reduction="pooled")
                                 for k in steps]),
            "ssim": torch.stack([ssim(prediction[:, :, [k]], future[:, :, [k]]) for k in steps])}


def prediction_league(names: Sequence[str] = PREDICTORS, n: int = 32, *, seed: int = 0
                      ) -> dict[str, dict[str, Tensor]]:
    """Each shipped predictor continues the first ``n`` held-out clips of its world (at most
    ``LEAGUE_CLIPS[name]``), next to copy-last-frame and linear extrapolation from the same context.

    Returns:
        ``{name: scores}`` with ``scores`` keys ``psnr/<row>`` and ``ssim/<row>`` (``(H,)`` float64, step 1
        first; rows ``model``, ``copy_last``, ``linear``) and ``clips`` (0-dim: the clips measured).
    """
    if n < 1:
        raise ValueError(f"n must be a positive number of clips, got {n}.")
    results = {}
    for name in names:
        module = models.get(name)
        if not hasattr(module, "prediction_task"):
            raise ValueError(f"{name!r} is not a predictor (no predict/prediction_task); "
                             f"the shipped predictors are {', '.join(PREDICTORS)}.")
        model = module.load_pretrained("cpu")
        clips = min(n, LEAGUE_CLIPS.get(name, n))
        context, future, condition = module.prediction_task(model, clips)
        horizon = future.shape[2]
        rows = {"model": module.predict(model, context, horizon, seed=seed, **condition),
                "copy_last": copy_last(context, horizon),
                "linear": linear_extrapolation(context, horizon)}
        scores = {"clips": torch.tensor(clips)}
        for row, prediction in rows.items():
            curves = step_scores(prediction, future)
            scores.update({f"{score}/{row}": curve for score, curve in curves.items()})
        results[name] = scores
    return results


def league_table(results: dict[str, dict[str, Tensor]], score: str = "psnr") -> str:
    """The league as text: per model, ``score`` ("psnr" or "ssim") at step 1 and at the last step, of the
    model and of the two baselines, and what the model is told about the future."""
    if score not in ("psnr", "ssim"):
        raise ValueError(f"score must be 'psnr' or 'ssim', got {score!r}.")
    head = (f"{'model':<16}{'clips':>6}{'steps':>6}  {'model':>7}{'copy':>7}{'linear':>7}  "
            f"{'model':>7}{'copy':>7}{'linear':>7}  future given")
    lines = [f"{'':<28}  {score} at step 1{'':<4}  {score} at the last step", head]
    for name, s in results.items():
        first = "".join(f"{s[f'{score}/{row}'][0].item():>7.2f}" for row in ("model", "copy_last", "linear"))
        last = "".join(f"{s[f'{score}/{row}'][-1].item():>7.2f}" for row in ("model", "copy_last", "linear"))
        lines.append(f"{name:<16}{int(s['clips']):>6}{len(s[f'{score}/model']):>6}  {first}  {last}  "
                     f"{FUTURE_GIVEN.get(name, '-')}")
    return "\n".join(lines)


# --- 2. interpolation --------------------------------------------------------------------------------

def _known_frames(known: Sequence[int] | None, num_frames: int) -> list[int]:
    """The known frame indices, sorted and checked (distinct, in [0, num_frames), at least one); default:
    the first and the last frame."""
    known = [0, num_frames - 1] if known is None else [int(k) for k in known]
    if not known or len(set(known)) != len(known) or not all(0 <= k < num_frames for k in known):
        raise ValueError(f"known must be distinct frame indices in [0, {num_frames}), at least one; "
                         f"got {known}.")
    return sorted(known)


def linear_blend(clips: Tensor, known: Sequence[int] | None = None) -> Tensor:
    """A cross-fade: each frame between two known frames is their mix, weighted by closeness in time.

    Frame t between known frames a < t < b is ``(b - t)/(b - a) x_a + (t - a)/(b - a) x_b``; frames before
    the first (after the last) known frame repeat it. ``clips`` ``(B, C, T, H, W)`` in [0, 1] (only the
    known frames are read); ``known``: frame indices, default ``(0, T - 1)``. Returns ``(B, C, T, H, W)``.
    """
    validate_video(clips, "clips")
    t = clips.shape[2]
    known = _known_frames(known, t)
    # column j: how much of known frame j each frame takes (a "hat" in time), (T, K)
    weights = np.stack([np.interp(np.arange(t), known, np.eye(len(known))[j]) for j in range(len(known))], 1)
    weights = torch.as_tensor(weights, dtype=clips.dtype, device=clips.device)
    return einsum(clips[:, :, known], weights, "b c k h w, t k -> b c t h w")


def interpolate(model: VideoDiffusion, clips: Tensor, captions: list[str], known: Sequence[int] | None = None,
                *, steps: int = INTERPOLATION_STEPS, reconstruction_guidance: float = 0.0,
                guidance: float = 0.0, seed: int = 0) -> Tensor:
    """Fill the unknown frames of ``clips`` with the diffusion model, given the known frames and captions.

    The replacement method (Ho et al. 2022, Sec. 3.1): DDIM from noise over the whole clip, and before
    every step the known frames' part of ``z_t`` is replaced by the true frames diffused to that step's
    noise level, a fresh draw of ``q(z_t^a | x^a)``. Its weakness, as Sec. 3.1 explains: the unknown
    frames are denoised with the model's ``E[x^b | z_t]``, not ``E[x^b | z_t, x^a]``; the known frames
    reach them only through a noisy ``z_t^a``, so the filled frames can disagree with them. The same
    section's fix, *reconstruction guidance*, here added to the replacement, with ``w_r`` =
    ``reconstruction_guidance``: ``x̃^b = x̂^b − (w_r α_t / 2) ∇_{z_t^b} ‖x^a − x̂^a(z_t)‖²``, a push on
    the unknown frames towards what makes the model's reconstruction of the known frames right.

    Args:
        clips: ``(B, 3, T, H, W)`` in [0, 1] of the model's size; only the known frames are read.
        captions: one per clip (``""``: unconditional).
        known: indices of the given frames, default ``(0, T - 1)``.
        steps: DDIM steps. reconstruction_guidance: ``w_r`` (0: the replacement method alone; each step then
            costs a backward pass too). guidance: classifier-free guidance scale (0: the conditional model).
        seed: the initial noise and the draws of the known frames' noise.
    Returns:
        ``(B, 3, T, H, W)`` in [0, 1] on the CPU; the known frames are exactly those of ``clips``.
    """
    c = model.config
    validate_clip(clips, channels=3, frame_size=c.frame_size, name="clips")
    if clips.shape[2] != c.num_frames:
        raise ValueError(f"clips must have the model's {c.num_frames} frames, got {clips.shape[2]}.")
    if len(captions) != len(clips):
        raise ValueError(f"got {len(captions)} captions for {len(clips)} clips; give one per clip.")
    if reconstruction_guidance < 0:
        raise ValueError(f"reconstruction_guidance must be >= 0, got {reconstruction_guidance}.")
    known = _known_frames(known, c.num_frames)
    device, generator = model_device(model), rng(seed)
    x_known = to_signed(clips[:, :, known]).to(device)
    tokens = tokenize(captions).to(device)

    def predict_x(z: Tensor, log_snr: Tensor) -> Tensor:  # the model's clean clips, as in diffusion.sample
        v = model.network_ema(z, log_snr, tokens)
        if guidance:
            v = guided(v, model.network_ema(z, log_snr, torch.zeros_like(tokens)), guidance)
        return x_from_v(z, v, log_snr)

    def denoise(z: Tensor, log_snr: Tensor) -> Tensor:  # -> the clean clips DDIM steps towards, in [-1, 1]
        z = z.clone()
        noise = torch.randn(x_known.shape, generator=generator).to(device)
        z[:, :, known] = diffuse(x_known, log_snr, noise)  # Sec. 3.1: z_t^a ~ q(z_t^a | x^a)
        if not reconstruction_guidance:
            return predict_x(z, log_snr)
        with torch.enable_grad():
            z.requires_grad_(True)
            x = predict_x(z, log_snr)
            error = ((x_known - x[:, :, known]) ** 2).sum()
            (gradient,) = torch.autograd.grad(error, z)
        alpha = rearrange(alpha_sigma(log_snr)[0], "b -> b 1 1 1 1")
        # Sec. 3.1's reconstruction guidance; on the known frames too, harmlessly: replaced at the next step
        return (x - reconstruction_guidance * alpha / 2 * gradient).detach()

    noise = torch.randn(clips.shape, generator=generator).to(device)
    with eval_mode(model):
        filled = from_signed(ddim_sample(denoise, noise, steps)).clamp(0.0, 1.0).cpu()
    filled[:, :, known] = clips[:, :, known].cpu()
    return filled


def centroids(videos: Tensor, threshold: float = 0.0) -> Tensor:
    """The intensity-weighted centre of each frame, ``(B, T, 2)`` as (y, x) in pixels.

    A pixel's intensity is its brightest channel; pixels at or below ``threshold`` weigh nothing (0: every
    lit pixel counts; ``VISIBLE`` = 0.5: only the visible shape, not a faint ghost or haze). A frame with no
    pixel above ``threshold`` gets NaN. ``videos`` ``(B, C, T, H, W)`` in [0, 1].
    """
    validate_video(videos, "videos")
    weight = videos.amax(dim=1).double()  # (B, T, H, W)
    weight = torch.where(weight > threshold, weight, 0.0)
    rows = torch.arange(weight.shape[2], dtype=weight.dtype, device=weight.device)
    cols = torch.arange(weight.shape[3], dtype=weight.dtype, device=weight.device)
    mass = weight.sum(dim=(2, 3))
    y = einsum(weight, rows, "b t h w, h -> b t") / mass
    x = einsum(weight, cols, "b t h w, w -> b t") / mass
    return torch.stack([y, x], dim=-1)  # 0 / 0 = NaN for an empty frame


def _centroid_error(videos: Tensor, truth: Tensor, threshold: float) -> tuple[float, float]:
    """Mean distance (pixels) of ``videos``' centres from the truth's over frames that show a shape, and
    the share of frames of ``videos`` that show none."""
    distance = (centroids(videos, threshold) - centroids(truth, threshold)).norm(dim=-1)
    missing = distance.isnan()
    return distance[~missing].mean().item(), missing.double().mean().item()


def interpolation_scores(model: VideoDiffusion, n: int = INTERPOLATION_CLIPS, *, seed: int = 0,
                         steps: int = INTERPOLATION_STEPS) -> dict[str, float]:
    """Fill frames 1..T-2 of the first ``n`` held-out clips from their first and last frames and captions.

    Keys ``<score>/<row>``, rows ``replacement`` (:func:`interpolate`), ``reconstruction`` (the same with
    reconstruction guidance, ``w_r = RECONSTRUCTION_WEIGHT``) and ``blend`` (:func:`linear_blend`), all on
    the middle frames: ``psnr`` (pooled over clips), ``ssim``; ``centroid_error``, the distance in pixels of
    the intensity-weighted centre from the truth's; ``shape_centroid_error`` and ``shape_missing``: the same
    for the visible shape (pixels above ``VISIBLE``), and the share of frames without one. Also ``clips``
    and ``steps``.
    """
    if n < 1:
        raise ValueError(f"n must be a positive number of clips, got {n}.")
    config = model.config
    captions, _ = heldout_captions(config, n)
    truth = video_batch(diffusion.dataset(config, "test", n), n)
    known, middle = (0, config.num_frames - 1), list(range(1, config.num_frames - 1))
    rows = {"replacement": interpolate(model, truth, captions, known, steps=steps, seed=seed),
            "reconstruction": interpolate(model, truth, captions, known, steps=steps, seed=seed,
                                          reconstruction_guidance=RECONSTRUCTION_WEIGHT),
            "blend": linear_blend(truth, known)}
    scores: dict[str, float] = {"clips": n, "steps": steps}
    for row, video in rows.items():
        fake, real = video[:, :, middle], truth[:, :, middle]
        scores[f"psnr/{row}"] = round(psnr(fake, real, reduction="pooled").item(), 4)
        scores[f"ssim/{row}"] = round(ssim(fake, real).item(), 4)
        scores[f"centroid_error/{row}"] = round(_centroid_error(fake, real, 0.0)[0], 4)
        error, missing = _centroid_error(fake, real, VISIBLE)
        scores[f"shape_centroid_error/{row}"] = round(error, 4)
        scores[f"shape_missing/{row}"] = round(missing, 4)
    return scores


# --- 3. editing -------------------------------------------------------------------------------------

def edit(model: VideoDiffusion, captions: list[str], new_captions: list[str], *, seed: int,
         steps: int | None = None, guidance: float = 0.0) -> tuple[Tensor, Tensor]:
    """Draw clips for ``captions`` and, from the very same noise, for ``new_captions``.

    DDIM is deterministic: the noise fixes everything the caption does not, so changing one word should
    change only what it names. Returns ``(original, edited)``, each ``(B, 3, T, H, W)`` in [0, 1];
    ``original`` is ``diffusion.sample(model, B, seed=seed, caption=captions, ...)``, and an unchanged
    caption gives an unchanged clip.
    """
    if len(new_captions) != len(captions):
        raise ValueError(f"got {len(new_captions)} new captions for {len(captions)} captions; give one each.")
    draw = dict(seed=seed, guidance=guidance, steps=steps)
    return (diffusion.sample(model, len(captions), caption=captions, **draw),
            diffusion.sample(model, len(captions), caption=new_captions, **draw))


def editing_scores(model: VideoDiffusion, n: int = EDIT_CLIPS, *, seed: int = 0,
                   steps: int = EDIT_STEPS) -> dict[str, float]:
    """Edit ``n`` clips, a third of the edits each on shape, colour and direction, and measure them.

    The clips come in pairs: a held-out caption, and the same caption with one attribute changed (to a
    random other value). Each clip is edited into its partner's caption, so the partner's own clip is a
    fresh sample of the new caption from other noise: the baseline "edit by sampling again".
    Keys, per edited attribute ``<a>`` (shape, color, direction) and ``all``:

    - ``target_acc/<row>/<a>``: the judge (:func:`~vidgen_lib.evaluation.diffusion.judged_attributes`)
      sees the new value, rows ``edit`` and ``resample``;
    - ``kept_acc/<row>/<a>``: the judge sees both other attributes as the caption says; row ``original``
      (the clip before the edit) is the reference;
    - ``path_distance/<row>/<a>``: mean distance (pixels) between the visible shape's centre in the
      original clip and in the ``edit`` or ``resample`` clip, over the frames.
    """
    if n < 6 or n % 2:
        raise ValueError(f"n must be an even number of clips, at least 6 (a pair per attribute), got {n}.")
    pairs, generator = n // 2, rng(seed)
    _, held_out = heldout_captions(model.config, pairs)
    names = list(ATTRIBUTES)
    which = [names[(i // 2) % len(names)] for i in range(n)]  # the attribute that clip i's edit changes
    changed = {name: values.clone() for name, values in held_out.items()}
    for k in range(pairs):
        a, choices = which[2 * k], ATTRIBUTES[which[2 * k]]
        changed[a][k] = (held_out[a][k] + torch.randint(1, choices, (), generator=generator)) % choices
    # clip 2k has held-out caption k, clip 2k + 1 its edit; each clip's partner is the other of its pair
    attributes = {name: rearrange([held_out[name], changed[name]], "two k -> (k two)") for name in names}
    partner = [i + 1 if i % 2 == 0 else i - 1 for i in range(n)]
    captions = [caption(int(s), int(c), int(d)) for s, c, d in zip(*attributes.values())]
    original, edited = edit(model, captions, [captions[j] for j in partner], seed=seed, steps=steps)
    clips = {"original": original, "edit": edited, "resample": original[partner]}
    judged = {row: judged_attributes(video) for row, video in clips.items()}
    wanted = {name: values[partner] for name, values in attributes.items()}  # the new captions' attributes
    centres = {row: centroids(video, VISIBLE) for row, video in clips.items()}

    def by_attribute(key: str, values: Tensor) -> dict[str, float]:  # (n,) -> means per edited attribute
        groups = {a: values[torch.tensor([w == a for w in which])] for a in names} | {"all": values}
        return {f"{key}/{a}": round(group.double().nanmean().item(), 4) for a, group in groups.items()}

    scores: dict[str, float] = {"clips": n, "steps": steps}
    for row in ("edit", "resample"):
        target = torch.tensor([judged[row][a][i] == wanted[a][i] for i, a in enumerate(which)])
        distance = (centres[row] - centres["original"]).norm(dim=-1).nanmean(dim=1)  # (n,): over frames
        scores |= by_attribute(f"target_acc/{row}", target) | by_attribute(f"path_distance/{row}", distance)
    for row in ("original", "edit", "resample"):  # the attributes not edited are the same in both captions
        kept = torch.tensor([all(judged[row][b][i] == wanted[b][i] for b in names if b != a)
                             for i, a in enumerate(which)])
        scores |= by_attribute(f"kept_acc/{row}", kept)
    return scores

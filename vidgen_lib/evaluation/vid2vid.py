"""Vid2Vid's measurements (``vid2vid`` and ``vid2vid_no_warp``): quality, temporal consistency, edits.

Wang et al., "Video-to-Video Synthesis", NeurIPS 2018, Sec. 4 compare with and without flow warping.
Here every clip of the world has an exact truth: the maps and the two given frames fix every pixel
except background that neither given frame shows. So the card measures, on held-out clips:

- per-frame quality against the truth: PSNR and SSIM of the generated frames L..T-1, and the toy-world
  FVD of whole clips against other real clips (``real`` is real-vs-real, the floor);
- temporal consistency: the *warping error* |x_t - warp(x_{t-1}, w_true)| of the generated frames under
  the true flow, on the pixels that flow explains (0 for real video), and *flicker*, the mean change of
  pixels that are background in both frames (0 for real video);
- edits (:func:`edit_clips`): the maps changed from frame L on (an object turns back; an object changes
  class), the world drawn again with the same textures as the truth of the edit; :func:`edit_followed`
  says on how many of the changed pixels the output took the edit's side.

Baseline ``copy_last``: frame L - 1 repeated, the best a model can do that ignores the maps.
Taught in ``notebooks/09_vid2vid.ipynb``.
"""
from __future__ import annotations

import torch
from torch import Tensor

from vidgen_lib.datasets.scenes import render_scene, reverse_object, swap_class
from vidgen_lib.evaluation.protocols import fvd
from vidgen_lib.metrics import psnr, ssim
from vidgen_lib.models.vid2vid import Vid2Vid, explained_pixels, test_clips, training_data, translate
from vidgen_lib.nn.warp import warp
from vidgen_lib.video import fold_time

__all__ = ["EDITS", "edit_clips", "edit_followed", "evaluate", "flicker", "frame_quality", "warping_error"]

EDITS = ("reverse", "swap")  # object 0 turns back / becomes the next class, from frame L on


def warping_error(video: Tensor, truth: Tensor, true_flow: Tensor, first: int) -> float:
    """Mean |x_t - warp(x_{t-1}, w_true)| of ``video`` over frames ``first``..T-1, on the pixels where the
    true flow explains the real video ``truth`` (no occlusion). Videos (B, C, T, H, W); flow (B, 2, T, H, W).
    """
    carried = warp(fold_time(video[:, :, first - 1:-1]), fold_time(true_flow[:, :, first:]))
    error = (fold_time(video[:, :, first:]) - carried).abs().mean(1, keepdim=True)
    where = fold_time(explained_pixels(truth, true_flow)[:, :, first - 1:])
    return float((error * where).sum() / where.sum())


def flicker(video: Tensor, labels: Tensor, first: int) -> float:
    """Mean |x_t - x_{t-1}| over frames ``first``..T-1 on pixels that are background (label 0) in both."""
    still = ((labels[:, first:] == 0) & (labels[:, first - 1:-1] == 0))[:, None]  # (B, 1, T', H, W)
    change = (video[:, :, first:] - video[:, :, first - 1:-1]).abs().mean(1, keepdim=True)
    return float(change[still].mean())


def frame_quality(video: Tensor, truth: Tensor, first: int) -> tuple[float, float]:
    """PSNR (dB) and SSIM of frames ``first``..T-1 against the truth, averaged over frames."""
    fake, real = fold_time(video[:, :, first:])[:, :, None], fold_time(truth[:, :, first:])[:, :, None]
    return float(psnr(fake, real, reduction="pooled")), float(ssim(fake, real))


def edit_followed(video: Tensor, edited: Tensor, original: Tensor, first: int) -> float:
    """The fraction of the pixels an edit changes (frames ``first``..T-1, a channel off by > 0.05) where
    ``video`` is closer (L1 over channels) to the edit's truth than to the unedited truth: 1 when a model
    follows the edited maps, 0 when it ignores them. All (B, 3, T, H, W)."""
    changed = (edited - original)[:, :, first:].abs().amax(1) > 0.05
    closer = (video - edited).abs().sum(1) < (video - original).abs().sum(1)
    return float(closer[:, first:][changed].float().mean())


def edit_clips(config, n: int, kind: str) -> dict[str, Tensor]:
    """The first ``n`` test scenes edited from frame L on, drawn again: ``video`` (the truth of the edit),
    ``labels``, ``flow`` (B, ...), as :func:`vidgen_lib.models.vid2vid.test_clips` gives unedited ones.

    ``reverse``: object 0 turns back and retraces its path. ``swap``: object 0 becomes the next class
    (square -> circle -> triangle -> square), same texture and path. The first L frames do not change.
    """
    if kind not in EDITS:
        raise ValueError(f"kind must be one of {EDITS}, got {kind!r}.")
    data, L = training_data(config, "test", n), config.past_frames
    items = []
    for i in range(n):
        scene = data.scene(i)
        if kind == "reverse":
            scene = reverse_object(scene, 0, L)
        else:
            scene = swap_class(scene, 0, int(scene["classes"][0, 0]) % 3 + 1, L)
        items.append(render_scene(scene, config.frame_size))
    return {key: torch.stack([item[key] for item in items]) for key in items[0]}


def evaluate(model: Vid2Vid, n: int, *, seed: int = 0) -> dict[str, float]:
    """The model card's numbers on the first ``n`` test clips (``n`` other real clips for FVD's reference).

    Keys ``<score>/<row>``, rows ``vid2vid`` (or ``vid2vid_no_warp``), ``copy_last`` and ``real`` (no PSNR
    and SSIM: they would be infinite and 1): ``psnr``, ``ssim``, ``fvd``, ``warping_error``, ``flicker``; for
    each of ``EDITS``, ``psnr_edit_<kind>/<row>`` against the edit's truth and ``edit_followed_<kind>/<row>``
    (:func:`edit_followed`); ``eval_videos``. The model is deterministic, so ``seed`` changes nothing.
    """
    if n < 2:
        raise ValueError(f"n must be at least 2 clips (FVD fits a covariance), got {n}.")
    c, L = model.config, model.config.past_frames
    name = "vid2vid" if c.warp else "vid2vid_no_warp"
    clips = test_clips(c, n)
    truth, labels, flow = clips["video"], clips["labels"], clips["flow"]
    reference = torch.stack([training_data(c, "train", n)[i]["video"] for i in range(n)])
    frozen = truth[:, :, L - 1:L].expand(-1, -1, c.num_frames - L, -1, -1)  # frame L - 1, repeated
    rows = {name: translate(model, labels, truth[:, :, :L]),
            "copy_last": torch.cat([truth[:, :, :L], frozen], dim=2)}
    scores: dict[str, float] = {"fvd/real": round(fvd(reference, truth), 4),
                                "warping_error/real": round(warping_error(truth, truth, flow, L), 4),
                                "flicker/real": round(flicker(truth, labels, L), 4)}
    for row, video in rows.items():
        quality = frame_quality(video, truth, L)
        scores.update({f"psnr/{row}": round(quality[0], 4), f"ssim/{row}": round(quality[1], 4),
                       f"fvd/{row}": round(fvd(reference, video), 4),
                       f"warping_error/{row}": round(warping_error(video, truth, flow, L), 4),
                       f"flicker/{row}": round(flicker(video, labels, L), 4)})
    for kind in EDITS:
        edited = edit_clips(c, n, kind)
        out = translate(model, edited["labels"], edited["video"][:, :, :L])
        scores[f"psnr_edit_{kind}/{name}"] = round(frame_quality(out, edited["video"], L)[0], 4)
        scores[f"edit_followed_{kind}/{name}"] = round(edit_followed(out, edited["video"], truth, L), 4)
    return {**scores, "eval_videos": n}

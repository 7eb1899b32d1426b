"""DVG's own measurements: where the agent is, and how samples under the same actions differ.

Both shapes of the action world are found by colour in the predicted frames (``agent_centroids``).
The model card's numbers (``evaluate``) are the agent's position error, PSNR and SSIM of DVG under the
true actions, of the same model under random actions (action-blind) and of copy-last-frame, and the
``diversity`` of k samples under the true actions, shape by shape, with SVG's best-of-k error
(Denton & Fergus, ICML 2018, Sec. 4). Taught in ``notebooks/07_dvg.ipynb``.
"""
from __future__ import annotations

import torch
from einops import rearrange
from torch import Tensor
from torch.utils.data import default_collate

from vidgen_lib.datasets.shapes import RGB
from vidgen_lib.metrics import copy_last_frame, psnr, ssim
from vidgen_lib.models import dvg
from vidgen_lib.runtime import rng


def heldout_batch(config: dvg.Config, n: int) -> dict[str, Tensor]:
    """The first n test videos of DVG's world, stacked: ``video`` (n, 3, T, H, W) in [0, 1], ``actions``
    (n, T-1), and the colour indices (n,) of the agent (``color``) and distractor (``distractor_color``)."""
    if n < 1:
        raise ValueError(f"n must be a positive number of test videos, got {n}.")
    data = dvg.training_data(config, "test", n)
    batch = default_collate([data[i] for i in range(n)])
    return {"video": batch["video"], "actions": batch["actions"], "color": batch["color"][:, 0],
            "distractor_color": batch["color"][:, 1]}


def agent_centroids(video: Tensor, colors: Tensor) -> Tensor:
    """Centroid (y, x) of the pixels that have the agent's colour (or any one shape's colour), per frame.

    A pixel is the shape's when each channel is within 0.5 of the shape's RGB (the course's colours
    are 0/1 per channel, so the other shape never counts). A frame without such pixels gets the
    frame's centre, so a vanished shape still costs an error.

    Args:
        video: (B, 3, T, H, W) in [0, 1]; colors: (B,) indices into ``vidgen_lib.datasets.COLORS``: the
            agent's, or the distractor's to find the distractor.
    Returns:
        (B, T, 2) float, in pixels.
    """
    rgb = torch.as_tensor(RGB, device=video.device)[colors.long()]  # (B, 3)
    mask = ((video - rgb[:, :, None, None, None]).abs() < 0.5).all(dim=1).float()  # (B, T, H, W)
    size = video.shape[-1]
    coords = torch.arange(size, dtype=torch.float32, device=video.device)
    count = mask.sum(dim=(2, 3))
    y = (mask.sum(dim=3) * coords).sum(-1) / count.clamp(min=1)
    x = (mask.sum(dim=2) * coords).sum(-1) / count.clamp(min=1)
    centre = torch.full_like(y, (size - 1) / 2)
    return torch.stack([torch.where(count > 0, y, centre), torch.where(count > 0, x, centre)], dim=-1)


def position_error(pred: Tensor, truth: Tensor, colors: Tensor) -> Tensor:
    """Mean distance (pixels) of the agent's centroids in ``pred`` from those in ``truth``, both
    (B, 3, T, H, W), over the frames: (B,)."""
    return (agent_centroids(pred, colors) - agent_centroids(truth, colors)).norm(dim=-1).mean(dim=1)


def baseline_predictions(model: dvg.DVG, batch: dict[str, Tensor], seed: int = 0) -> dict[str, Tensor]:
    """The future of each test video as DVG predicts it under the true actions, as the same model predicts
    it under random actions (action-blind), and as copy-last-frame has it.

    Args:
        batch: from ``heldout_batch``: ``video`` (B, 3, T, H, W), ``actions`` (B, T-1).
    Returns:
        ``"dvg"``, ``"random_actions"``, ``"copy_last"``: (B, 3, horizon, H, W) each, in [0, 1].
    """
    c = model.config
    video, actions = batch["video"], batch["actions"]
    context = video[:, :, : c.context]
    random_actions = torch.randint(c.num_actions, actions.shape, generator=rng(seed + 1))
    random_actions[:, : c.context - 1] = actions[:, : c.context - 1]  # the context's own actions stay
    return {"dvg": dvg.predict(model, context, c.horizon, actions=actions, seed=seed),
            "random_actions": dvg.predict(model, context, c.horizon, actions=random_actions, seed=seed),
            "copy_last": copy_last_frame(context, c.horizon)}


def sample_futures(model: dvg.DVG, batch: dict[str, Tensor], k: int, seed: int = 0) -> Tensor:
    """k futures of every test video under its true actions, z_t drawn from the learned prior.

    Args:
        batch: from ``heldout_batch``.
    Returns:
        (k, B, 3, horizon, H, W) in [0, 1]; sample i uses seed ``seed + i``.
    """
    c = model.config
    context = batch["video"][:, :, : c.context]
    return torch.stack([dvg.predict(model, context, c.horizon, actions=batch["actions"], seed=seed + i)
                        for i in range(k)])


def diversity(samples: Tensor, batch: dict[str, Tensor]) -> dict[str, float]:
    """How k samples under the same actions differ, shape by shape, as SVG's best-of-k evaluation.

    Args:
        samples: (k, B, 3, horizon, H, W) from ``sample_futures``; batch: from ``heldout_batch``.
    Returns:
        ``spread_px/agent`` and ``spread_px/distractor``: the RMS distance of a shape's centroid from
        its mean over the k samples, averaged over frames and videos (0 when all samples agree);
        ``distractor_error_px/one_sample``: the distractor's position error of a single sample, and
        ``distractor_error_px/best_of_k``: of the sample closest to the truth, per video.
    """
    k = samples.shape[0]
    flat = rearrange(samples, "k b c t h w -> (k b) c t h w")
    future = batch["video"][:, :, -samples.shape[3]:]
    where = {name: rearrange(agent_centroids(flat, colors.repeat(k)), "(k b) t yx -> k b t yx", k=k)
             for name, colors in (("agent", batch["color"]), ("distractor", batch["distractor_color"]))}
    metrics = {}
    for name, found in where.items():  # found: (k, B, T, 2)
        spread = (found - found.mean(0)).pow(2).sum(-1).mean(0).sqrt()  # (B, T)
        metrics[f"spread_px/{name}"] = spread.mean().item()
    truth = agent_centroids(future, batch["distractor_color"])  # (B, T, 2)
    error = (where["distractor"] - truth).norm(dim=-1).mean(-1)  # (k, B), per sample and video
    metrics["distractor_error_px/one_sample"] = error.mean().item()
    metrics["distractor_error_px/best_of_k"] = error.min(0).values.mean().item()
    return metrics


@torch.no_grad()
def evaluate(model: dvg.DVG, n: int, *, seed: int = 0, k: int = 8) -> dict[str, float]:
    """The model card's numbers on n test videos: agent position error (pixels), PSNR (of the MSE pooled
    over the set) and SSIM of DVG under the true actions (``/dvg``), of the same model under random actions
    (``/random_actions``) and of copy-last-frame (``/copy_last``); and the ``diversity`` of k samples."""
    batch = heldout_batch(model.config, n)  # checks n
    future = batch["video"][:, :, model.config.context:]
    metrics: dict[str, float] = {"eval_videos": n, "samples_k": k}
    for name, pred in baseline_predictions(model, batch, seed).items():
        metrics[f"position_error_px/{name}"] = position_error(pred, future, batch["color"]).mean().item()
        metrics[f"psnr/{name}"] = psnr(pred, future, reduction="pooled").item()  # finite: strict JSON
        metrics[f"ssim/{name}"] = ssim(pred, future).item()
    metrics.update(diversity(sample_futures(model, batch, k, seed), batch))
    return metrics


__all__ = ["agent_centroids", "baseline_predictions", "diversity", "evaluate", "heldout_batch",
           "position_error", "sample_futures"]

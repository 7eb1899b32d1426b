"""The video diffusion model's measurements: its generator scores, and whether clips show their captions.

The scores are :func:`~vidgen_lib.evaluation.protocols.generator_scores` of clips drawn for the captions
of held-out clips (the protocol of every generator's card) and of unconditional clips. What is this
model's own is :func:`caption_accuracy`: the toy-world feature network (``vidgen_lib.features``) names
the shape, colour and direction of each generated clip, and the names are compared with its caption.
The same judge on real clips gives the ceiling; chance is 1/3, 1/6 and 1/4.
Taught in ``notebooks/11_video_diffusion.ipynb``.
"""
from __future__ import annotations

import torch
from torch import Tensor

from vidgen_lib import features
from vidgen_lib.datasets import COLORS, DIRECTIONS, SHAPES, video_batch
from vidgen_lib.evaluation.protocols import generator_scores
from vidgen_lib.models import diffusion
from vidgen_lib.models.diffusion import VideoDiffusion
from vidgen_lib.runtime import model_device

ATTRIBUTES = {"shape": len(SHAPES), "color": len(COLORS), "direction": len(DIRECTIONS)}


def judged_attributes(videos: Tensor, batch_size: int = 64) -> dict[str, Tensor]:
    """What the feature network sees in each clip: ``{"shape", "color", "direction"}`` -> ``(N,)`` class ids.

    Args:
        videos: ``(N, 3, T, H, W)`` in [0, 1].
    """
    judge = features.load_features()
    device = model_device(judge)
    with torch.no_grad():
        logits = [judge(chunk.to(device)) for chunk in videos.split(batch_size)]
    return {name: torch.cat([out[name].argmax(dim=1).cpu() for out in logits]) for name in ATTRIBUTES}


def caption_accuracy(videos: Tensor, truth: dict[str, Tensor]) -> dict[str, float]:
    """Share of clips whose judged shape, colour and direction equal ``truth`` (``(N,)`` class ids each),
    and ``all``: all three at once."""
    judged = judged_attributes(videos)
    hits = {name: judged[name] == truth[name] for name in ATTRIBUTES}
    every = torch.stack(list(hits.values())).all(dim=0)
    return {**{name: hit.float().mean().item() for name, hit in hits.items()},
            "all": every.float().mean().item()}


def heldout_captions(config: diffusion.Config, n: int) -> tuple[list[str], dict[str, Tensor]]:
    """The captions of ``n`` test clips and their attributes ``{"shape", "color", "direction"}`` ``(n,)``."""
    clips = [diffusion.dataset(config, "test", n)[i] for i in range(n)]
    truth = {name: torch.stack([clip[name][0] for clip in clips]) for name in ATTRIBUTES}
    return [clip["caption"] for clip in clips], truth


SWEEP_SCALES = (0.0, 1.0, 3.0)  # guidance scales w of the card's sweep
SWEEP_CAPTIONS = 8  # captions of the sweep, each drawn ...
SWEEP_CLIPS = 8  # ... this many times


def diversity(videos: Tensor) -> float:
    """Mean distance between the video features of two different clips of ``videos`` ``(N, C, T, H, W)``:
    how different clips drawn for one caption are from each other."""
    feats = features.video_features(videos)
    n = len(feats)
    return (torch.cdist(feats, feats).sum() / (n * (n - 1))).item()


def guidance_sweep(model: VideoDiffusion, scales: tuple[float, ...] = SWEEP_SCALES, *, seed: int = 0
                   ) -> dict[str, float]:
    """Classifier-free guidance traded against diversity: for each scale ``w``, ``SWEEP_CLIPS`` clips for each
    of ``SWEEP_CAPTIONS`` test captions (the same noise at every ``w``). Keys ``caption_all_acc/w=<w>``
    (all three attributes judged right) and ``diversity/w=<w>`` (:func:`diversity` within a caption,
    averaged over the captions)."""
    captions, truth = heldout_captions(model.config, SWEEP_CAPTIONS)
    repeated = [text for text in captions for _ in range(SWEEP_CLIPS)]
    truth = {name: values.repeat_interleave(SWEEP_CLIPS) for name, values in truth.items()}
    scores = {}
    for w in scales:
        clips = diffusion.sample(model, len(repeated), seed=seed, caption=repeated, guidance=w)
        scores[f"caption_all_acc/w={w:g}"] = round(caption_accuracy(clips, truth)["all"], 4)
        spread = [diversity(group) for group in clips.split(SWEEP_CLIPS)]
        scores[f"diversity/w={w:g}"] = round(sum(spread) / len(spread), 4)
    return scores


def evaluate(model: VideoDiffusion, n: int, *, seed: int = 0) -> dict[str, float]:
    """The model card's numbers, on ``n`` held-out clips.

    - ``generator_scores`` (``fvd``, ``fvd_motion``, ``fd_frames``, ``acd`` with the rows ``diffusion``,
      ``real``, ``static``, ``shuffled``, ``noise``) of ``n`` clips drawn for the captions of the ``n``
      test clips they are compared with, at the config's guidance scale;
    - the same scores of ``n`` unconditional clips (row ``diffusion_unconditional``);
    - ``caption_<attr>_acc/diffusion`` and ``.../real``: the judged attributes of the conditioned samples
      and of the real test clips against the captions (``attr``: shape, color, direction, all);
      ``caption_<attr>_acc/chance``;
    - :func:`guidance_sweep`: caption accuracy and diversity at several guidance scales.
    """
    if n < 1:
        raise ValueError(f"n must be a positive number of clips, got {n}.")
    config = model.config
    captions, truth = heldout_captions(config, n)
    reference = video_batch(diffusion.dataset(config, "test", n), n)
    others = video_batch(diffusion.dataset(config, "train", n), n)
    samples = diffusion.sample(model, n, seed=seed, caption=captions)
    scores = generator_scores(samples, reference, others, name="diffusion", seed=seed)
    unconditional = diffusion.sample(model, n, seed=seed + 1)
    scores.update({key: value for key, value in generator_scores(
        unconditional, reference, others, name="diffusion_unconditional", seed=seed).items()
        if key.endswith("/diffusion_unconditional")})
    for row, videos in (("diffusion", samples), ("real", reference)):
        for name, value in caption_accuracy(videos, truth).items():
            scores[f"caption_{name}_acc/{row}"] = round(value, 4)
    chance = {name: 1.0 / k for name, k in ATTRIBUTES.items()}
    chance["all"] = chance["shape"] * chance["color"] * chance["direction"]
    scores.update({f"caption_{name}_acc/chance": round(p, 4) for name, p in chance.items()})
    scores.update(guidance_sweep(model, seed=seed))
    return scores

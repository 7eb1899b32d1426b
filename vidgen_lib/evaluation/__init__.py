"""Measuring models: the course's feature networks, the protocols, and each model's own measurements.

- :mod:`~vidgen_lib.evaluation.i3d`: FVD's I3D, from a file you have (the course's own feature network,
  the toy-world video classifier behind FVD, KVD and ACD, is :mod:`vidgen_lib.features`, below the models);
- :mod:`~vidgen_lib.evaluation.protocols`: videos in, features, metrics out; ``generator_scores``,
  the protocol of every generator's model card;
- one module per model whose measurements are its own (``vgan``: the background; ``mocogan``: the
  content/motion decomposition; ``tdvae``: identity and direction of rollouts; ``dvg``: where the
  agent is; ``vpn``: nats per frame; ``vid2vid``: quality, temporal consistency, edits; ``videobert``: text
  to video, retrieval, forecasting; ``diffusion``: do clips show their captions;
  ``codec``: rate and distortion of real bytes; ``interaction_net``: rollout error and energy;
  ``sound_to_video``: does the ball go where the sound says), each with
  ``evaluate(model, n, *, seed=0) -> dict``: the numbers of the model card;
- :mod:`~vidgen_lib.evaluation.applications`: chapter 12's prediction league, interpolation and editing.

This package sits above the models: it imports them, they never import it.
"""
from __future__ import annotations

import importlib
from types import ModuleType

from torch import nn

from vidgen_lib.evaluation.protocols import (acd_videos, card_rows, embed_videos, evaluate_generator,
                                             evaluate_models, fvd, generator_scores, kvd_videos,
                                             scores_table)

#: model name -> the module with its ``evaluate``.
_MEASUREMENTS = {
    "vgan": "vidgen_lib.evaluation.vgan",
    "vgan_one_stream": "vidgen_lib.evaluation.vgan",
    "mocogan": "vidgen_lib.evaluation.mocogan",
    "tdvae": "vidgen_lib.evaluation.tdvae",
    "dvg": "vidgen_lib.evaluation.dvg",
    "vpn": "vidgen_lib.evaluation.vpn",
    "vpn_independent": "vidgen_lib.evaluation.vpn",
    "vid2vid": "vidgen_lib.evaluation.vid2vid",
    "vid2vid_no_warp": "vidgen_lib.evaluation.vid2vid",
    "videobert": "vidgen_lib.evaluation.videobert",
    "diffusion": "vidgen_lib.evaluation.diffusion",
    "codec": "vidgen_lib.evaluation.codec",
    "interaction_net": "vidgen_lib.evaluation.interaction_net",
    "interaction_net_no_edges": "vidgen_lib.evaluation.interaction_net",
    "sound_to_video": "vidgen_lib.evaluation.sound_to_video",
}


def for_model(name: str) -> ModuleType:
    """The module that measures model ``name`` (its ``evaluate`` writes the model card's numbers)."""
    if name not in _MEASUREMENTS:
        raise KeyError(f"No measurements for model {name!r}; known: {', '.join(sorted(_MEASUREMENTS))}.")
    return importlib.import_module(_MEASUREMENTS[name])


def evaluate(name: str, model: nn.Module, n: int, *, seed: int = 0) -> dict[str, float]:
    """The model card's numbers for ``model`` (registered as ``name``), measured on ``n`` held-out clips."""
    if n < 1:
        raise ValueError(f"n must be a positive number of clips, got {n}.")
    return for_model(name).evaluate(model, n, seed=seed)


__all__ = ["for_model", "evaluate", "acd_videos", "card_rows", "embed_videos", "evaluate_generator",
           "evaluate_models", "fvd", "generator_scores", "kvd_videos", "scores_table"]

"""The interaction network's baseline, under its own name so it is trained and shipped beside it.

The same object model phi_O with every effect set to zero (``use_edges=False``): a per-ball MLP that
sees its own ball's state only. It can learn the walls, which depend on a ball's own position, but not
collisions, which need the other balls (Battaglia et al. 2016, Sec. 4 compare with such a model).
Everything else (data, optimiser, budget, measurement) is ``interaction_net``'s.
``python -m vidgen_lib train interaction_net_no_edges`` writes
``data/checkpoints/interaction_net_no_edges.pt``.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import torch

from vidgen_lib.checkpoints import load_model
from vidgen_lib.models import interaction_net
from vidgen_lib.models.interaction_net import (InteractionNetwork, build, predict, prediction_task, train,
                                               training_step)

NAME = "interaction_net_no_edges"


@dataclasses.dataclass
class Config(interaction_net.Config):
    """``interaction_net.Config`` with ``use_edges=False``; the same presets otherwise."""

    use_edges: bool = False


def load_pretrained(device: torch.device | str | None = None, *,
                    path: str | Path | None = None) -> InteractionNetwork:
    """The shipped baseline checkpoint ``data/checkpoints/interaction_net_no_edges.pt``, in eval mode."""
    return load_model(NAME, Config, build, device, path)


__all__ = ["Config", "InteractionNetwork", "build", "train", "training_step", "predict", "prediction_task",
           "load_pretrained"]

"""Vid2Vid without flow warping, under its own name so it is trained and shipped beside ``vid2vid``.

Wang et al., "Video-to-Video Synthesis", NeurIPS 2018, Sec. 4 (ablation "without flow warping"): the
generator has no flow branch and its mask is fixed to 1, so x_t = h_t: every frame is hallucinated from
the maps and the past frames, and nothing is carried over by a warp. Everything else (discriminators,
losses but the flow and mask terms, optimiser, data, budget) is ``vid2vid``'s.
``python -m vidgen_lib train vid2vid_no_warp`` writes ``data/checkpoints/vid2vid_no_warp.pt``.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import torch

from vidgen_lib.checkpoints import load_model
from vidgen_lib.models import vid2vid
from vidgen_lib.models.vid2vid import (Vid2Vid, build, make_optimizers, predict, prediction_task, test_clips,
                                       train, training_data, training_step, translate)

NAME = "vid2vid_no_warp"


@dataclasses.dataclass
class Config(vid2vid.Config):
    """``vid2vid.Config`` with ``warp=False``; the same presets otherwise."""

    warp: bool = False


def load_pretrained(device: torch.device | str | None = None, *, path: str | Path | None = None) -> Vid2Vid:
    """The shipped checkpoint ``data/checkpoints/vid2vid_no_warp.pt`` (or ``path``), in eval mode."""
    return load_model(NAME, Config, build, device, path)


__all__ = ["Config", "Vid2Vid", "build", "make_optimizers", "predict", "prediction_task", "test_clips",
           "train", "training_data", "training_step", "translate", "load_pretrained"]

"""VPN's baseline, under its own name so it is trained and shipped beside ``vpn``.

Kalchbrenner et al., "Video Pixel Networks", ICML 2017, Sec. 5 and Table 1: the same network without
dependencies between the pixels of a frame. The decoder reads only the ConvLSTM state of the past
frames, never the frame it predicts, so given the past every pixel is drawn independently. Everything
else (encoder, ConvLSTM, data, optimiser, budget) is ``vpn``'s; so is the measurement,
:mod:`vidgen_lib.evaluation.vpn`.
``python -m vidgen_lib train vpn_independent`` writes ``data/checkpoints/vpn_independent.pt``.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import torch

from vidgen_lib.checkpoints import load_model
from vidgen_lib.models import vpn
from vidgen_lib.models.vpn import (VPN, build, predict, prediction_task, train, training_step,
                                   vpn_loss)

NAME = "vpn_independent"


@dataclasses.dataclass
class Config(vpn.Config):
    """``vpn.Config`` with ``independent_pixels=True``; the same presets otherwise."""

    independent_pixels: bool = True


def load_pretrained(device: torch.device | str | None = None, *, path: str | Path | None = None) -> VPN:
    """The shipped baseline checkpoint ``data/checkpoints/vpn_independent.pt``, in eval mode."""
    return load_model(NAME, Config, build, device, path)


__all__ = ["Config", "VPN", "build", "train", "training_step", "vpn_loss", "predict", "prediction_task",
           "load_pretrained"]

"""VPN's baseline, under its own name so it is trained and shipped beside ``vpn``.

Kalchbrenner et al., "Video Pixel Networks", ICML 2017, Sec. 5 and Table 1: the same network without
dependencies between the pixels of a frame. The decoder reads only the ConvLSTM state of the past
frames, never the frame it predicts, so given the past every pixel is drawn independently. Everything
else (encoder, ConvLSTM, data, optimiser, budget) is ``vpn``'s.
``python -m vidgen_lib train vpn_independent`` writes ``data/checkpoints/vpn_independent.pt``.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import torch

from vidgen_lib.models import vpn
from vidgen_lib.models.vpn import (VPN, build, evaluate, log_likelihood, nll_nats_per_frame, predict,
                                   prediction_task, receptive_field, train, training_step, vpn_loss)

NAME = "vpn_independent"


@dataclasses.dataclass
class Config(vpn.Config):
    """``vpn.Config`` with ``independent_pixels=True``; the same presets otherwise."""

    independent_pixels: bool = True


def load_pretrained(device: torch.device | str | None = None, path: str | Path | None = None) -> VPN:
    """The shipped baseline checkpoint ``data/checkpoints/vpn_independent.pt``, in eval mode."""
    return vpn.load_pretrained(device, path, name=NAME)


__all__ = ["Config", "VPN", "build", "train", "training_step", "vpn_loss", "log_likelihood", "nll_nats_per_frame",
           "evaluate", "predict", "prediction_task", "receptive_field", "load_pretrained"]

"""VGAN's one-stream ablation, under its own name so it is trained and shipped beside ``vgan``.

Vondrick, Pirsiavash, Torralba, "Generating Videos with Scene Dynamics", NIPS 2016, Sec. 3.2 and
4.2: the same generator without the mask and the background stream, so the 3-D stream draws every
pixel of every frame. Everything else (discriminator, optimiser, data, budget) is ``vgan``'s.
``python -m vidgen_lib train vgan_one_stream`` writes ``data/checkpoints/vgan_one_stream.pt``.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import torch

from vidgen_lib.checkpoints import load_model
from vidgen_lib.models import vgan
from vidgen_lib.models.vgan import (SNAPSHOT_SAMPLES, VGAN, VGANDiscriminator, VGANGenerator, build, dataset,
                                    generate_parts, latents, make_optimizers, sample, sample_from, train,
                                    training_step)

NAME = "vgan_one_stream"


@dataclasses.dataclass
class Config(vgan.Config):
    """``vgan.Config`` with ``two_stream=False``; the same presets otherwise."""

    two_stream: bool = False


def load_pretrained(device: torch.device | str | None = None, *, path: str | Path | None = None) -> VGAN:
    """The shipped checkpoint ``data/checkpoints/vgan_one_stream.pt`` (or ``path``), in eval mode."""
    return load_model(NAME, Config, build, device, path)


__all__ = ["Config", "VGAN", "VGANGenerator", "VGANDiscriminator", "build", "dataset", "make_optimizers",
           "training_step", "train", "sample", "sample_from", "latents", "generate_parts", "load_pretrained",
           "SNAPSHOT_SAMPLES"]

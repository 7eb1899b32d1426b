"""Shared fixtures: a tiny model module that follows the uniform model API (see vidgen_lib.models)."""
from __future__ import annotations

import dataclasses
import types

import pytest
import torch
from torch import nn

from vidgen_lib import models
from vidgen_lib.checkpoints import load_model
from vidgen_lib.runtime import rng
from vidgen_lib.train import run

# The unit tests train tiny models: one thread avoids thread hand-offs that cost more than the maths.
torch.set_num_threads(1)


@dataclasses.dataclass
class TinyConfig:
    num_frames: int = 4
    frame_size: int = 8
    lr: float = 0.1
    steps: int = 5
    eval_videos: int = 0  # the CLI measures nothing after training

    @classmethod
    def preset(cls, name: str) -> "TinyConfig":
        return {"tutorial": cls(), "full": cls(frame_size=16, steps=10)}[name]


class TinyVideoModel(nn.Module):
    """Learns one video (a per-pixel logit) and samples it plus a little noise."""

    def __init__(self, config: TinyConfig) -> None:
        super().__init__()
        self.logits = nn.Parameter(torch.zeros(1, 1, config.num_frames, config.frame_size, config.frame_size))


def _training_step(model, trainer, batch):
    loss = (torch.sigmoid(model.logits) - 0.8).pow(2).mean()
    return {"loss": trainer.update("model", loss)}


def _train(config, steps=None, *, run_dir=None, seed=0, progress=True, time_limit_s=None):
    model = TinyVideoModel(config)
    optimizers = {"model": torch.optim.SGD(model.parameters(), lr=config.lr)}
    return run(model, optimizers, _training_step, iter(lambda: 0, 1),
               config.steps if steps is None else steps,
               run_dir=run_dir, seed=seed, progress=progress, time_limit_s=time_limit_s, log_every=1)


def _sample(model, n, *, seed=None):
    noise = 0.01 * torch.randn((n, *model.logits.shape[1:]), generator=rng(seed))
    return (torch.sigmoid(model.logits) + noise).clamp(0, 1).detach()


@pytest.fixture
def tiny_model_module(tmp_path):
    """A registered model module named 'tiny' whose checkpoints live in tmp_path."""
    module = types.ModuleType("tiny")
    module.Config, module.TinyVideoModel = TinyConfig, TinyVideoModel
    module.build = TinyVideoModel
    module.training_step = _training_step
    module.train = _train
    module.sample = _sample

    def load_pretrained(device=None, *, path=None):
        return load_model("tiny", TinyConfig, TinyVideoModel, device, path or tmp_path / "tiny.pt")

    module.load_pretrained = load_pretrained
    models.register("tiny", module)
    yield module
    models._REGISTRY.pop("tiny", None)

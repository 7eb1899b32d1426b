"""Shared fixtures: a tiny model module that follows the uniform model API (see vidgen_lib.models)."""
from __future__ import annotations

import dataclasses
import types

import pytest
import torch
from torch import nn

from vidgen_lib import models
from vidgen_lib.train import Trainer

# The unit tests train tiny models: one thread avoids thread hand-offs that cost more than the maths.
torch.set_num_threads(1)


@dataclasses.dataclass
class TinyConfig:
    num_frames: int = 4
    frame_size: int = 8
    lr: float = 0.1
    steps: int = 5

    @classmethod
    def preset(cls, name: str) -> "TinyConfig":
        return {"tutorial": cls(), "full": cls(frame_size=16, steps=10)}[name]


class TinyVideoModel(nn.Module):
    """Learns one video (a per-pixel logit) and samples it plus a little noise."""

    def __init__(self, config: TinyConfig) -> None:
        super().__init__()
        self.logits = nn.Parameter(torch.zeros(1, 1, config.num_frames, config.frame_size, config.frame_size))


def _train(config, steps, *, run_dir=None, seed=0, progress=False):
    model = TinyVideoModel(config)
    target = torch.full_like(model.logits, 0.8)

    def step(trainer, batch):
        loss = (torch.sigmoid(model.logits) - target).pow(2).mean()
        return {"loss": trainer.update("model", loss)}

    trainer = Trainer({"model": model}, {"model": torch.optim.SGD(model.parameters(), lr=config.lr)},
                      run_dir=run_dir, seed=seed, progress=progress, log_every=1)
    history = trainer.fit(step, iter(lambda: 0, 1), steps)
    return model, {"final_loss": history[-1]["loss"]}


def _sample(model, n, *, seed=None):
    g = torch.Generator().manual_seed(seed or 0)
    noise = 0.01 * torch.randn((n, *model.logits.shape[1:]), generator=g)
    return (torch.sigmoid(model.logits) + noise).clamp(0, 1)


@pytest.fixture
def tiny_model_module(tmp_path):
    """A registered model module named 'tiny' whose checkpoints live in tmp_path."""
    module = types.ModuleType("tiny")
    module.Config, module.TinyVideoModel = TinyConfig, TinyVideoModel
    module.build = TinyVideoModel
    module.train = _train
    module.sample = _sample

    def load_pretrained(device=None):
        from vidgen_lib.checkpoints import load_checkpoint

        state, card = load_checkpoint(tmp_path / "tiny.pt")
        model = TinyVideoModel(TinyConfig(**card["config"]))
        model.load_state_dict(state)
        return model.eval()

    module.load_pretrained = load_pretrained
    models.register("tiny", module)
    yield module
    models._REGISTRY.pop("tiny", None)

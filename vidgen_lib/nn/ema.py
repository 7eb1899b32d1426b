"""Weight averaging for GAN generators: a moving average of weights, and BatchNorm statistics to match."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn


@torch.no_grad()
def ema_update(average: nn.Module, model: nn.Module, decay: float) -> None:
    """average ← decay · average + (1 − decay) · model, parameter by parameter; buffers copied.

    An exponential moving average of a GAN generator's weights smooths the oscillation of the game
    without changing it (Yazıcı et al., "The Unusual Effectiveness of Averaging in GAN Training",
    ICLR 2019). Buffers (BatchNorm statistics) are copied; :func:`recalibrate_batchnorm` re-estimates
    them for the averaged weights once training ends.
    """
    for avg, new in zip(average.parameters(), model.parameters()):
        avg.lerp_(new, 1 - decay)
    for avg, new in zip(average.buffers(), model.buffers()):
        avg.copy_(new)


@torch.no_grad()
def recalibrate_batchnorm(module: nn.Module, run_batch: Callable[[torch.Generator], Any],
                          batches: int = 50) -> None:
    """Re-estimate ``module``'s BatchNorm statistics from its own activations.

    Averaged weights are not the weights the running statistics were measured with; a few forward
    passes in training mode (cumulative averages, no gradients) make them match.

    Args:
        module: the network whose BatchNorm layers are re-estimated (e.g. an averaged generator).
        run_batch: ``run_batch(generator)`` runs one forward pass of ``module`` on a fresh batch,
            drawing its inputs with the given CPU ``torch.Generator`` (seeded, so repeatable).
        batches: how many forward passes to average over.
    """
    norms = [m for m in module.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    was_training = module.training
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None  # cumulative average over the passes below
    module.train()
    gen = torch.Generator().manual_seed(0)
    for _ in range(batches):
        run_batch(gen)
    for norm in norms:
        norm.momentum = 0.1
    module.train(was_training)

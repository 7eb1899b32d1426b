"""The interaction network's measurements: how far its rollouts stray, step by step, and what happens to
the energy the world conserves.

Battaglia et al. 2016 (Sec. 4) judge the model by rolling it out from a true state, feeding each
prediction back in, and comparing with the simulator. The card records the mean distance between
predicted and true ball centres after 1, 5, 10 and ``num_frames - context`` steps, next to the
*constant-velocity* baseline (no walls, no collisions), and the kinetic energy of the rollout's last step
as a fraction of the true (constant) energy. Walls reverse momentum, so momentum is not conserved in
this world and is not scored. Used by ``interaction_net`` and ``interaction_net_no_edges``; taught in
``notebooks/12_applications.ipynb``.
"""
from __future__ import annotations

import torch
from torch import Tensor

from vidgen_lib.models.interaction_net import (InteractionNetwork, constant_velocity, dataset,
                                               kinetic_energy, position_error, rollout)

__all__ = ["evaluate", "rollout_errors", "test_states"]

HORIZONS = (1, 5, 10)  # steps after the last context frame at which the card records the error


def test_states(model: InteractionNetwork, n: int) -> tuple[Tensor, Tensor]:
    """The true ``positions`` and ``velocities`` of ``n`` held-out clips, ``(n, T, num_balls, 2)`` each."""
    data = dataset(model.config, "test", n)
    clips = [data[i] for i in range(n)]
    return tuple(torch.stack([clip[key] for clip in clips]) for key in ("positions", "velocities"))


def rollout_errors(model: InteractionNetwork, n: int) -> dict[str, Tensor]:
    """Roll out from the last context frame of ``n`` held-out clips to the clip's end.

    Returns: ``model`` and ``constant_velocity``: the mean position error per step ``(H,)``;
    ``energy``: the rollout's kinetic energy per step divided by the true energy, mean over clips ``(H,)``,
    with ``H = num_frames - context``.
    """
    positions, velocities = test_states(model, n)
    k = model.config.context
    start, true_future = (positions[:, k - 1], velocities[:, k - 1]), positions[:, k:]
    horizon = true_future.shape[1]
    pred_x, pred_v = rollout(model, *start, horizon)
    flat_x, _ = constant_velocity(*start, horizon)
    energy = kinetic_energy(pred_v) / kinetic_energy(velocities[:, k - 1])[:, None]  # (n, H)
    return {"model": position_error(pred_x, true_future),
            "constant_velocity": position_error(flat_x, true_future), "energy": energy.mean(dim=0)}


def evaluate(model: InteractionNetwork, n: int, *, seed: int = 0) -> dict[str, float]:
    """The card's numbers on ``n`` held-out clips (the test split is fixed; ``seed`` is not used).

    Keys ``position_error_step{k}/{name}`` and ``position_error_step{k}/constant_velocity`` (world units,
    the box is 10 wide) for k in 1, 5, 10 (those before the last step) and the last step, and
    ``energy_ratio_step{last}/{name}``, with ``name`` ``interaction_net`` or ``interaction_net_no_edges``.
    """
    errors = rollout_errors(model, n)
    name = "interaction_net" if model.config.use_edges else "interaction_net_no_edges"
    horizon = len(errors["model"])
    scores: dict[str, float] = {"eval_videos": n}
    for step in sorted({*(h for h in HORIZONS if h < horizon), horizon}):
        for who, key in ((name, "model"), ("constant_velocity", "constant_velocity")):
            scores[f"position_error_step{step}/{who}"] = round(errors[key][step - 1].item(), 4)
    scores[f"energy_ratio_step{horizon}/{name}"] = round(errors["energy"][-1].item(), 4)
    return scores

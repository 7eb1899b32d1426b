"""An interaction network: a graph network that predicts how bouncing balls move, rolled out to video.

Battaglia, Pascanu, Lai, Rezende, Kavukcuoglu, "Interaction Networks for Learning about Objects,
Relations, and Physics", NeurIPS 2016.

The model never sees pixels. Each ball is an object with a state ``o = (position, velocity)``; every
ordered pair of balls is a relation (a complete directed graph). One step of the model (Sec. 2):

1. the **relational model** phi_R reads each pair ``(o_receiver, o_sender)`` and outputs an *effect*;
2. each ball sums the effects it receives: ``e_i = sum_{j != i} phi_R(o_i, o_j)``;
3. the **object model** phi_O reads the ball's own state and its summed effect and predicts how the
   state changes. There are no external effects here (no gravity), so ``x`` of the paper is dropped.

Both are shared by every pair and every ball, so the model is equivariant to the order of the balls and
works for any number of them. Walls are not objects: the object model sees its own position and learns
where the walls are. With ``use_edges=False`` the effects are zero: the same object model, a per-ball MLP
that can learn walls but not collisions, the baseline of ``notebooks/12_applications.ipynb``.

What is predicted: the displacement to the next frame *and* the next velocity, each as a correction to
free flight, ``x' = x + v + speed * a`` and ``v' = v + speed * b`` with ``(a, b) = phi_O(o, e)``. Free
flight then costs the network nothing (``a = b = 0``); it only learns what walls and collisions change.
Displacement and velocity are predicted apart because the world moves in two sub-steps per frame: a ball
that bounces mid-frame travels neither ``v`` nor ``v'``, so integrating one predicted velocity would be
wrong at every bounce. Inputs are scaled to order one: positions to [-1, 1] across the box, velocities
and outputs by the balls' joint ``speed``.
"""
from __future__ import annotations

import dataclasses
import itertools
from pathlib import Path

import numpy as np
import torch
from einops import rearrange, repeat
from torch import Tensor, nn

from vidgen_lib.checkpoints import load_model
from vidgen_lib.datasets import BouncingBalls
from vidgen_lib.datasets.balls import render_balls
from vidgen_lib.runtime import eval_mode, model_device, seed_everything
from vidgen_lib.train import Trainer, batches, run
from vidgen_lib.video import validate_clip

STATE = 4  # per ball: position (y, x) and velocity (vy, vx)


@dataclasses.dataclass
class Config:
    """Sizes, world and optimisation of an interaction-network run (recorded in the model card)."""

    num_balls: int = 3
    num_frames: int = 16  # frames per clip, for training and for the prediction task
    context: int = 2  # observed frames of the prediction task; the model starts from the last one's state
    frame_size: int = 32  # only for rendering: the model works on states
    radius: float = 1.2  # the world (BouncingBalls' defaults): ball radius,
    box_size: float = 10.0  # side of the box,
    speed: float = 0.5  # and the joint speed of all balls, world units per frame
    relation_width: int = 128  # hidden width of phi_R (paper: 150)
    effect_dim: int = 64  # size of an effect (paper: 50)
    object_width: int = 128  # hidden width of phi_O (paper: 100)
    use_edges: bool = True  # False: effects are zero, a per-ball MLP baseline
    noise: float = 0.0  # std of the noise on training inputs, in units of speed (see one_step_loss)
    batch_size: int = 64  # clips per step (each gives num_frames - 1 transitions)
    lr: float = 3e-3  # at 1,000 steps, half the one-step loss of 1e-3
    train_videos: int = 5_000  # training clips, simulated once at the start of training
    eval_videos: int = 256  # N of the test-split metrics written into the model card
    steps: int = 2_000

    @classmethod
    def preset(cls, name: str) -> Config:
        """``tutorial``: about a minute of training on one idle CPU thread (2,000 steps of ~35 ms);
        ``full``: the same network on more clips, larger batches and more steps (a GPU)."""
        if name == "tutorial":
            return cls()
        if name == "full":
            return cls(batch_size=256, train_videos=100_000, eval_videos=1024, steps=50_000)
        raise ValueError(f"Unknown preset {name!r}: use 'tutorial' or 'full'.")


def mlp(sizes: list[int]) -> nn.Sequential:
    """Linear layers of the given sizes with ReLU between them (none after the last)."""
    layers: list[nn.Module] = []
    for i, (n_in, n_out) in enumerate(itertools.pairwise(sizes)):
        layers += [nn.Linear(n_in, n_out)] + ([nn.ReLU()] if i < len(sizes) - 2 else [])
    return nn.Sequential(*layers)


class InteractionNetwork(nn.Module):
    """phi_R on every ordered pair of balls, effects summed per receiver, phi_O on each ball (Sec. 2)."""

    def __init__(self, config: Config) -> None:
        super().__init__()
        self.config = c = config
        if c.use_edges:  # phi_R: (o_receiver, o_sender) -> effect
            self.relation = mlp([2 * STATE, c.relation_width, c.relation_width, c.effect_dim])
        # phi_O: (o, e) -> (a, b)
        self.object = mlp([STATE + c.effect_dim, c.object_width, c.object_width, STATE])

    def effects(self, objects: Tensor) -> Tensor:
        """Summed effects (B, n, effect_dim) on each ball from object states (B, n, 4); zero without edges."""
        b, n, _ = objects.shape
        if not self.config.use_edges:
            return objects.new_zeros(b, n, self.config.effect_dim)
        receivers = repeat(objects, "b i d -> b i j d", j=n)
        senders = repeat(objects, "b j d -> b i j d", i=n)
        effect = self.relation(torch.cat([receivers, senders], dim=-1))  # (B, n, n, effect_dim), one per pair
        others = 1 - torch.eye(n, device=objects.device)  # every ordered pair i != j is a relation
        return torch.einsum("bije,ij->bie", effect, others)  # e_i = sum_{j != i} phi_R(o_i, o_j)

    def forward(self, positions: Tensor, velocities: Tensor) -> Tensor:
        """The change of each ball's state, as corrections to free flight.

        Args:
            positions: (B, n, 2) ball centres (y, x) in world units, in [0, box_size].
            velocities: (B, n, 2) world units per frame.
        Returns:
            (B, n, 4): ``(a, b)`` with ``x' = x + v + speed * a`` and ``v' = v + speed * b`` (see the
            module docstring); zero in free flight.
        """
        c = self.config
        # object states o (B, n, 4) of order one: positions to [-1, 1] across the box, velocities / speed
        objects = torch.cat([2 * positions / c.box_size - 1, velocities / c.speed], dim=-1)
        return self.object(torch.cat([objects, self.effects(objects)], dim=-1))


def build(config: Config) -> InteractionNetwork:
    """A fresh interaction network (or, with ``use_edges=False``, the per-ball MLP) with PyTorch's default
    initialisation."""
    return InteractionNetwork(config)


def next_state(model: InteractionNetwork, positions: Tensor, velocities: Tensor) -> tuple[Tensor, Tensor]:
    """One step: the state (B, n, 2) each at frame t -> the predicted state at frame t + 1, integrated."""
    a, b = (model(positions, velocities) * model.config.speed).chunk(2, dim=-1)
    return positions + velocities + a, velocities + b


# --- the loss -----------------------------------------------------------------------------------

def one_step_loss(model: InteractionNetwork, positions: Tensor, velocities: Tensor,
                  noise: float = 0.0) -> Tensor:
    """Teacher-forced one-step loss: every frame of the true clips predicts the next one.

    Args:
        positions, velocities: (B, T, n, 2), true states of T consecutive frames.
        noise: the standard deviation, in units of ``speed``, of Gaussian noise added to the input states
            (Battaglia et al. 2016, Sec. 4). The target stays the true next state, so the network learns
            to pull a state that has strayed back: in a rollout its own errors are such noise.
    Returns:
        the mean squared error of the predicted change (B·(T-1) transitions, n balls, 4 numbers each), in
        units of ``speed``: equal to that of the next state ``(x', v')`` divided by ``speed``.
    """
    x, v = (rearrange(s[:, :-1], "b t n d -> (b t) n d") for s in (positions, velocities))
    x_next, v_next = (rearrange(s[:, 1:], "b t n d -> (b t) n d") for s in (positions, velocities))
    if noise > 0:
        x = x + noise * model.config.speed * torch.randn_like(x)
        v = v + noise * model.config.speed * torch.randn_like(v)
    target = torch.cat([x_next - x - v, v_next - v], dim=-1) / model.config.speed  # what free flight misses
    return ((model(x, v) - target) ** 2).mean()


def training_step(model: InteractionNetwork, trainer: Trainer, batch: dict[str, Tensor]) -> dict[str, float]:
    """One Adam step on a batch {"positions", "velocities": (B, T, n, 2)} of true clips."""
    loss = one_step_loss(model, batch["positions"], batch["velocities"], model.config.noise)
    trainer.update("model", loss)
    return {"step_mse": loss.item()}


# --- rollouts and what the chapter measures -----------------------------------------------------

def _check_state(positions: Tensor, velocities: Tensor, horizon: int, batch: int | None = None) -> None:
    """Raise a ValueError naming what a rollout expected."""
    if horizon < 1:
        raise ValueError(f"horizon must be a positive number of frames to predict, got {horizon}.")
    for name, state in (("positions", positions), ("velocities", velocities)):
        if not isinstance(state, Tensor) or state.ndim != 3 or state.shape[-1] != 2:
            shape = tuple(state.shape) if isinstance(state, Tensor) else type(state).__name__
            raise ValueError(f"{name} must be a tensor (B, num_balls, 2): the state of the last context "
                             f"frame; got {shape}.")
    if positions.shape != velocities.shape:
        raise ValueError(f"positions and velocities must have the same shape, got {tuple(positions.shape)} "
                         f"and {tuple(velocities.shape)}.")
    if batch is not None and positions.shape[0] != batch:
        raise ValueError(f"positions and velocities must have one row per context clip ({batch}), "
                         f"got {positions.shape[0]}.")


def rollout(model: InteractionNetwork, positions: Tensor, velocities: Tensor,
            horizon: int) -> tuple[Tensor, Tensor]:
    """Roll the model out from one state, feeding each prediction back in (no gradients).

    Args:
        positions, velocities: (B, n, 2), the state at the last observed frame (world units).
        horizon: frames to predict (>= 1).
    Returns:
        positions, velocities: (B, horizon, n, 2) each, the predicted states of the next ``horizon``
        frames, on the CPU.
    """
    _check_state(positions, velocities, horizon)
    dev = model_device(model)
    x, v = positions.to(dev).float(), velocities.to(dev).float()
    xs, vs = [], []
    with eval_mode(model):
        for _ in range(horizon):
            x, v = next_state(model, x, v)
            xs.append(x)
            vs.append(v)
    return torch.stack(xs, dim=1).cpu(), torch.stack(vs, dim=1).cpu()


def constant_velocity(positions: Tensor, velocities: Tensor, horizon: int) -> tuple[Tensor, Tensor]:
    """The baseline without physics: every ball keeps its velocity, walls and balls ignored.

    (B, n, 2) each -> (B, horizon, n, 2) each, like :func:`rollout`.
    """
    _check_state(positions, velocities, horizon)
    steps = torch.arange(1, horizon + 1, dtype=positions.dtype, device=positions.device)
    future = positions[:, None] + steps[None, :, None, None] * velocities[:, None]  # x_t = x_0 + t v_0
    return future, repeat(velocities, "b n d -> b t n d", t=horizon)


def kinetic_energy(velocities: Tensor) -> Tensor:
    """Kinetic energy ``sum_balls |v|^2 / 2`` of unit masses: (..., n, 2) -> (...), e.g. (B, T) per step.

    The world conserves it (elastic walls and collisions), so a rollout's drift from its start is an error.
    """
    return 0.5 * (velocities**2).sum(dim=(-2, -1))


def position_error(pred: Tensor, true: Tensor) -> Tensor:
    """Mean distance (world units) between predicted and true ball centres, per step: (B, T, n, 2) -> (T,)."""
    if pred.shape != true.shape or pred.ndim != 4:
        raise ValueError(f"pred and true must both be (B, T, n, 2), got {tuple(pred.shape)} and "
                         f"{tuple(true.shape)}.")
    return (pred - true).norm(dim=-1).mean(dim=(0, 2))


def render(config: Config, positions: Tensor) -> Tensor:
    """Ball centres (B, T, n, 2) -> videos (B, 1, T, H, W) in [0, 1], drawn as the dataset draws them."""
    frames = [render_balls(clip.double().numpy(), config.radius, config.box_size, config.frame_size)
              for clip in positions.detach().cpu()]
    return rearrange(torch.from_numpy(np.stack(frames).astype(np.float32)), "b t h w -> b 1 t h w")


def predict(model: InteractionNetwork, context: Tensor, horizon: int, *, seed: int | None = None,
            positions: Tensor, velocities: Tensor) -> Tensor:
    """The next ``horizon`` frames after ``context``: the state of its last frame rolled out and rendered.

    The network reads states, not pixels: ``context`` is only checked (and fixes the batch size); the
    state comes from ``positions`` and ``velocities``, as :func:`prediction_task` gives them.

    Args:
        context: (B, 1, Tc, H, W) in [0, 1], the observed frames.
        horizon: frames to predict (>= 1).
        seed: unused (the model is deterministic); there for the predictors' common API.
        positions, velocities: (B, n, 2), the state at the last context frame (world units).
    Returns:
        (B, 1, horizon, H, W) in [0, 1], on the CPU.
    """
    if horizon < 1:
        raise ValueError(f"horizon must be a positive number of frames to predict, got {horizon}.")
    validate_clip(context, channels=1, frame_size=model.config.frame_size, name="context")
    _check_state(positions, velocities, horizon, batch=context.shape[0])
    future, _ = rollout(model, positions, velocities, horizon)
    return render(model.config, future)


# --- the world, the held-out task, training and the shipped checkpoint --------------------------

def dataset(config: Config, split: str = "train", num_videos: int | None = None) -> BouncingBalls:
    """The bouncing-balls world of ``config`` (``config.train_videos`` clips unless given)."""
    num_videos = config.train_videos if num_videos is None else num_videos
    return BouncingBalls(split, num_videos, config.num_frames, config.frame_size, num_balls=config.num_balls,
                         radius=config.radius, box_size=config.box_size, speed=config.speed)


def prediction_task(model: InteractionNetwork, n: int) -> tuple[Tensor, Tensor, dict[str, Tensor]]:
    """``n`` held-out clips to continue: the context ``(n, 1, context, H, W)``, the true future
    ``(n, 1, num_frames - context, H, W)`` and what ``predict`` needs: the ``positions`` and ``velocities``
    ``(n, num_balls, 2)`` of the last context frame."""
    if n < 1:
        raise ValueError(f"n must be a positive number of clips, got {n}.")
    data, k = dataset(model.config, "test", n), model.config.context
    clips = [data[i] for i in range(n)]
    video = torch.stack([clip["video"] for clip in clips])
    condition = {key: torch.stack([clip[key][k - 1] for clip in clips])  # the state at the last context frame
                 for key in ("positions", "velocities")}
    return video[:, :, :k], video[:, :, k:], condition


def train(config: Config, steps: int | None = None, *, run_dir: str | Path | None = None, seed: int = 0,
          progress: bool = True,
          time_limit_s: float | None = None) -> tuple[InteractionNetwork, dict[str, float]]:
    """Train on ``config.train_videos`` clips with Adam and the one-step loss; returns the model (eval mode)
    and its training metrics (``final/step_mse``, ``steps``, ...).

    The clips' states are simulated once and kept (no frames are rendered): the network never needs them.
    """
    seed_everything(seed)
    model = build(config)
    data = dataset(config)
    clips = (data[i] for i in range(len(data)))
    states = [{key: clip[key] for key in ("positions", "velocities")} for clip in clips]
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    return run(model, {"model": optimizer}, training_step, batches(states, config.batch_size),
               config.steps if steps is None else steps, run_dir=run_dir, seed=seed, progress=progress,
               time_limit_s=time_limit_s)


def load_pretrained(device: torch.device | str | None = None, *,
                    path: str | Path | None = None) -> InteractionNetwork:
    """The shipped checkpoint ``data/checkpoints/interaction_net.pt``, checked against its card, in eval
    mode (none ships yet: until then this raises a FileNotFoundError that names the training command)."""
    return load_model("interaction_net", Config, build, device, path)


__all__ = ["Config", "InteractionNetwork", "build", "constant_velocity", "dataset", "kinetic_energy",
           "load_pretrained", "mlp", "next_state", "one_step_loss", "position_error", "predict",
           "prediction_task", "render", "rollout", "train", "training_step"]

"""Bouncing balls: the physics toy of the RTRBM paper (Sutskever, Hinton & Taylor, NeurIPS 2008).

Rules of the original simulator: a square box of side 10 (world units), balls of radius 1.2 and
equal mass, start positions rejection-sampled so no ball touches a wall or another ball, random
velocities normalised *jointly* (over all balls) to a total speed of 0.5 per frame, two sub-steps
per frame. A wall flips the velocity component that points outwards; two touching balls exchange
momentum along the line joining their centres (a 1-D elastic collision). Frames are rendered as
the sum over balls of ``exp(-(d^2 / r^2)^4)``, clipped at 1.

One change from the original: balls only collide while they approach each other, so a pair that
still overlaps after a collision does not collide again and stick together.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch

from vidgen_lib.datasets.base import SyntheticVideos


def elastic_collision_1d(m1: float, m2: float, v1: float, v2: float) -> tuple[float, float]:
    """Velocities after a 1-D elastic collision of masses ``m1``, ``m2`` moving at ``v1``, ``v2``.

    Conserves momentum ``m1 v1 + m2 v2`` and kinetic energy ``(m1 v1^2 + m2 v2^2) / 2``.
    """
    total = m1 + m2
    return ((m1 - m2) * v1 + 2 * m2 * v2) / total, ((m2 - m1) * v2 + 2 * m1 * v1) / total


def collide(
    x1: np.ndarray, x2: np.ndarray, v1: np.ndarray, v2: np.ndarray, m1: float = 1.0, m2: float = 1.0
) -> tuple[np.ndarray, np.ndarray]:
    """New velocities ``(2,)`` of two balls at centres ``x1``, ``x2`` ``(2,)`` that touch.

    Only the components along the line of centres change, by a 1-D elastic collision; the
    components across it are kept. Balls that move apart are left alone.
    """
    w = (x1 - x2) / np.linalg.norm(x1 - x2)  # unit vector from ball 2 to ball 1
    u1, u2 = float(w @ v1), float(w @ v2)  # speeds along the line of centres
    if u1 - u2 >= 0:  # already separating
        return v1, v2
    new_u1, new_u2 = elastic_collision_1d(m1, m2, u1, u2)
    return v1 + (new_u1 - u1) * w, v2 + (new_u2 - u2) * w


def simulate_balls(
    rng: np.random.Generator,
    num_balls: int,
    num_frames: int,
    radius: float = 1.2,
    box_size: float = 10.0,
    speed: float = 0.5,
    substeps: int = 2,
) -> tuple[np.ndarray, np.ndarray]:
    """Simulate equal-mass balls in a box; returns positions and velocities ``(T, num_balls, 2)``.

    Positions are ball centres ``(y, x)`` in world units; ``velocities[t]`` (world units per frame)
    is the velocity at frame ``t``. The joint norm of all velocities is ``speed``.
    """
    # Rejection sampling: centres uniform away from the walls, redrawn until no two balls touch.
    for _ in range(10_000):
        x = rng.uniform(radius, box_size - radius, size=(num_balls, 2))
        gaps = np.linalg.norm(x[:, None] - x[None, :], axis=-1) + np.eye(num_balls) * 2 * radius
        if np.all(gaps >= 2 * radius):
            break
    else:
        raise ValueError(f"could not place {num_balls} balls of radius {radius} in a box of "
                         f"size {box_size}; use fewer or smaller balls.")
    v = rng.standard_normal((num_balls, 2))
    v = v / np.linalg.norm(v) * speed

    dt = 1.0 / substeps
    positions, velocities = [], []
    for _ in range(num_frames):
        positions.append(x.copy())
        velocities.append(v.copy())
        for _ in range(substeps):
            x = x + dt * v
            # Walls: make the velocity component point back into the box.
            v = np.where(x - radius < 0, np.abs(v), v)
            v = np.where(x + radius > box_size, -np.abs(v), v)
            for i in range(num_balls):
                for j in range(i):
                    if np.linalg.norm(x[i] - x[j]) < 2 * radius:
                        v[i], v[j] = collide(x[i], x[j], v[i], v[j])
    return np.stack(positions), np.stack(velocities)


def render_balls(
    centres: np.ndarray, radius: float, box_size: float, frame_size: int
) -> np.ndarray:
    """Render ball centres ``(T, n, 2)`` (world units) to frames ``(T, H, W)`` in [0, 1].

    Pixel ``(i, j)`` sits at world point ``((i + 0.5), (j + 0.5)) * box_size / frame_size``.
    """
    grid = (np.arange(frame_size) + 0.5) * box_size / frame_size  # (H,) == (W,)
    dy = grid[None, None, :, None] - centres[:, :, 0, None, None]  # (T, n, H, 1)
    dx = grid[None, None, None, :] - centres[:, :, 1, None, None]  # (T, n, 1, W)
    blobs = np.exp(-(((dy**2 + dx**2) / radius**2) ** 4))  # (T, n, H, W)
    return np.minimum(blobs.sum(axis=1), 1.0)


class BouncingBalls(SyntheticVideos):
    """Bouncing-balls videos with elastic collisions (RTRBM rules, see the module docstring).

    ``dataset[i]`` is a dict:

    - ``"video"``: ``(1, T, H, W)`` float32 in [0, 1],
    - ``"positions"``: ``(T, num_balls, 2)`` float32 ball centres ``(y, x)`` in world units,
    - ``"velocities"``: ``(T, num_balls, 2)`` float32 world units per frame at each frame.

    Args:
        num_balls: balls per video (the RTRBM benchmark uses 3).
        radius: ball radius in world units.
        box_size: side of the box in world units.
        speed: joint norm of all ball velocities, world units per frame.
        substeps: simulation steps per frame.
    """

    def __init__(
        self,
        split: str = "train",
        num_videos: int = 1000,
        num_frames: int = 16,
        frame_size: int = 32,
        seed: int = 0,
        *,
        num_balls: int = 3,
        radius: float = 1.2,
        box_size: float = 10.0,
        speed: float = 0.5,
        substeps: int = 2,
    ) -> None:
        super().__init__(split, num_videos, num_frames, frame_size, seed)
        if not isinstance(num_balls, int) or num_balls < 1:
            raise ValueError(f"num_balls must be a positive integer, got {num_balls!r}.")
        if not 0 < 2 * radius < box_size:
            raise ValueError(f"radius must be positive and a ball must fit in the box: "
                             f"0 < 2 * {radius} < {box_size}.")
        if num_balls * (2 * radius) ** 2 > (box_size - 2 * radius) ** 2:
            raise ValueError(f"{num_balls} balls of radius {radius} are too many for a box of size "
                             f"{box_size}; use fewer or smaller balls.")
        if radius * frame_size / box_size < 1:
            raise ValueError(f"frame_size={frame_size} draws a ball of radius {radius} smaller "
                             "than a pixel; use larger frames or balls.")
        if not isinstance(substeps, int) or substeps < 1:
            raise ValueError(f"substeps must be a positive integer, got {substeps!r}.")
        if not 0 < speed < radius * substeps:
            raise ValueError(f"speed must be in (0, radius * substeps) = (0, {radius * substeps}) "
                             f"so a ball cannot jump through a wall or another ball; got {speed}.")
        self.num_balls, self.radius, self.box_size = num_balls, radius, box_size
        self.speed, self.substeps = speed, substeps

    def generate(self, rng: np.random.Generator) -> dict[str, Any]:
        positions, velocities = simulate_balls(rng, self.num_balls, self.num_frames, self.radius,
                                               self.box_size, self.speed, self.substeps)
        frames = render_balls(positions, self.radius, self.box_size, self.frame_size)
        return {
            "video": torch.from_numpy(frames[None].astype(np.float32)),  # (1, T, H, W)
            "positions": torch.from_numpy(positions.astype(np.float32)),
            "velocities": torch.from_numpy(velocities.astype(np.float32)),
        }


__all__ = ["BouncingBalls", "collide", "elastic_collision_1d", "simulate_balls", "render_balls"]

"""What every synthetic video dataset shares: splits, per-item seeding, index checks, bouncing.

Each video is a pure function of ``(seed, split, index)``: item ``i`` gets its own
``numpy.random.Generator`` built from ``SeedSequence([seed, split_id, i])``. So item ``i`` is the
same in every run and every DataLoader worker, and train and test draw from different streams.
"""
from __future__ import annotations

import operator
from typing import Any

import numpy as np
from torch.utils.data import Dataset

SPLITS = ("train", "test")


def split_id(split: str) -> int:
    """The integer that tells the train stream (0) from the test stream (1)."""
    if split not in SPLITS:
        raise ValueError(f"split={split!r} is not a split; use one of {SPLITS}.")
    return SPLITS.index(split)


def item_rng(seed: int, split: str, index: int) -> np.random.Generator:
    """The random generator of one item: a pure function of (seed, split, index)."""
    return np.random.default_rng(np.random.SeedSequence([seed, split_id(split), index]))


def bounce_in_box(
    start: np.ndarray, velocity: np.ndarray, num_frames: int, high: float
) -> tuple[np.ndarray, np.ndarray]:
    """Move points at constant speed inside ``[0, high]`` per coordinate, reflecting at the edges.

    Args:
        start: ``(..., 2)`` positions at frame 0, inside ``[0, high]``.
        velocity: ``(..., 2)`` displacement per frame; each component smaller than ``high``.
    Returns:
        positions ``(T, ..., 2)`` and velocities ``(T, ..., 2)``; ``velocities[t]`` is the velocity
        that leaves frame ``t`` (after any bounce at frame ``t``).
    """
    p = np.array(start, dtype=np.float64)
    v = np.array(velocity, dtype=np.float64)
    positions, velocities = [p.copy()], [v.copy()]
    for _ in range(num_frames - 1):
        p = p + v
        # A component that crossed an edge is mirrored back and its velocity flips sign.
        low = (p <= 0) & (v < 0)
        p[low], v[low] = -p[low], -v[low]
        up = (p >= high) & (v > 0)
        p[up], v[up] = 2 * high - p[up], -v[up]
        positions.append(p.copy())
        velocities.append(v.copy())
    return np.stack(positions), np.stack(velocities)


class SyntheticVideos(Dataset):
    """Base class: ``num_videos`` generated videos, item ``i`` a pure function of (seed, split, i).

    Subclasses implement ``generate(rng) -> dict``; ``dataset[i]["video"]`` is ``(C, T, H, W)``
    float32 in [0, 1].
    """

    def __init__(
        self,
        split: str = "train",
        num_videos: int = 1000,
        num_frames: int = 16,
        frame_size: int = 32,
        seed: int = 0,
    ) -> None:
        split_id(split)  # raises on a bad split
        for name, value, low in (("num_videos", num_videos, 1), ("num_frames", num_frames, 2),
                                 ("frame_size", frame_size, 8), ("seed", seed, 0)):
            if not isinstance(value, (int, np.integer)) or value < low:
                raise ValueError(f"{name} must be an integer >= {low}, got {value!r}.")
        self.split = split
        self.num_videos = int(num_videos)
        self.num_frames = int(num_frames)
        self.frame_size = int(frame_size)
        self.seed = int(seed)

    def __len__(self) -> int:
        return self.num_videos

    def __getitem__(self, index: int) -> dict[str, Any]:
        return self.generate(self.rng(index))

    def rng(self, index: int) -> np.random.Generator:
        """The random generator of item ``index`` (negative indices count from the end)."""
        index = operator.index(index)
        if index < 0:
            index += self.num_videos
        if not 0 <= index < self.num_videos:
            raise IndexError(f"index {index} out of range for {self.num_videos} videos.")
        return item_rng(self.seed, self.split, index)

    def generate(self, rng: np.random.Generator) -> dict[str, Any]:
        """Draw one video and its ground truth from ``rng``."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(split={self.split!r}, num_videos={self.num_videos}, "
                f"num_frames={self.num_frames}, frame_size={self.frame_size}, seed={self.seed})")

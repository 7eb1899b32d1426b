"""The synthetic video world: moving digits, bouncing balls, moving shapes and textured shapes.

Every dataset is a map-style ``torch.utils.data.Dataset`` whose item ``i`` is a pure function of
``(seed, split, i)``, generated on the fly. ``dataset[i]["video"]`` is ``(C, T, H, W)`` float32 in
[0, 1]; the other entries are ground truth (labels, positions, velocities, captions, masks,
actions, optical flow) for checking what a model generates.

>>> ds = MovingDigits("train", num_videos=64, num_frames=16, frame_size=32)
>>> video_batch(ds, 8).shape
torch.Size([8, 1, 16, 32, 32])
"""
from __future__ import annotations

import torch

from vidgen_lib.datasets.balls import BouncingBalls
from vidgen_lib.datasets.base import SPLITS, SyntheticVideos
from vidgen_lib.datasets.digits import MovingDigits, load_digit_sprites, read_idx
from vidgen_lib.datasets.scenes import LABELS, TexturedShapes
from vidgen_lib.datasets.shapes import (ACTIONS, COLORS, DIRECTIONS, SHAPES, ActionShapes, MovingShapes,
                                        apply_actions)
from vidgen_lib.datasets.sounds import SoundingBalls

#: Every dataset by name.
DATASETS: dict[str, type[SyntheticVideos]] = {
    "moving_digits": MovingDigits,
    "bouncing_balls": BouncingBalls,
    "moving_shapes": MovingShapes,
    "action_shapes": ActionShapes,
    "textured_shapes": TexturedShapes,
}


def video_batch(dataset: SyntheticVideos, n: int, start: int = 0) -> torch.Tensor:
    """Videos ``start .. start + n - 1`` of ``dataset`` stacked into ``(n, C, T, H, W)``."""
    if n < 1 or start < 0 or start + n > len(dataset):
        raise IndexError(f"videos {start}..{start + n - 1} are not all in a dataset of "
                         f"{len(dataset)}.")
    return torch.stack([dataset[i]["video"] for i in range(start, start + n)])


__all__ = [
    "MovingDigits", "BouncingBalls", "MovingShapes", "ActionShapes", "TexturedShapes", "load_digit_sprites",
    "read_idx", "apply_actions", "video_batch", "DATASETS", "SPLITS", "SHAPES", "COLORS",
    "DIRECTIONS", "ACTIONS", "LABELS", "SoundingBalls",
]

"""Shape stories: one coloured shape that moves, clip after clip, and turns between clips; with a caption.

A story is a short video cut into ``num_clips`` clips of ``clip_frames`` frames. In each clip the shape
moves in one direction; between clips it turns the same way every time (clockwise, anticlockwise, or
back the way it came), so the directions of all clips follow from the first direction and the turn.
The caption says exactly that:

    "a red circle moves left and turns clockwise"   ->   clips: left, up, right, down

Stories differ in length (``min_clips`` .. ``max_clips`` clips), like the videos of a real collection,
so a model that reads them needs padding. The ground truth of every clip (shape, colour, direction) is
kept, to judge what a model generates.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch
from einops import rearrange

from vidgen_lib.datasets.base import SyntheticVideos
from vidgen_lib.datasets.shapes import COLORS, DIRECTION_MOVES, DIRECTIONS, RGB, SHAPES, paint, shape_stamp

TURNS = ("clockwise", "anticlockwise", "back")
# The direction after each turn, indexed [turn, direction] with directions (left, right, up, down). On the
# screen (rows grow downwards) clockwise goes right -> down -> left -> up -> right.
NEXT_DIRECTION = np.array([[2, 3, 1, 0],   # clockwise: left -> up, right -> down, up -> right, down -> left
                           [3, 2, 0, 1],   # anticlockwise
                           [1, 0, 3, 2]])  # back
#: Every word a caption can use, in a fixed order.
WORDS = ("a", *COLORS, *SHAPES, "moves", *DIRECTIONS, "and", "turns", *TURNS)


def story_caption(shape: int, color: int, direction: int, turn: int) -> str:
    """The sentence of a story, e.g. ``"a red circle moves left and turns clockwise"``."""
    return f"a {COLORS[color]} {SHAPES[shape]} moves {DIRECTIONS[direction]} and turns {TURNS[turn]}"


CAPTION_LENGTH = len(story_caption(0, 0, 0, 0).split())  # words in every caption


def clip_directions(direction: int, turn: int, num_clips: int) -> np.ndarray:
    """``(num_clips,)`` direction index of each clip: the first ``direction``, then one ``turn`` per clip."""
    directions = [direction]
    for _ in range(num_clips - 1):
        directions.append(int(NEXT_DIRECTION[turn, directions[-1]]))
    return np.array(directions, dtype=np.int64)


class ShapeStories(SyntheticVideos):
    """Captioned stories of one shape that turns between clips.

    ``dataset[i]`` is a dict (``n`` = the story's number of clips, ``c`` = ``clip_frames``):

    - ``"video"``: ``(3, n * c, H, W)`` float32 in [0, 1], RGB on black; the length varies per story,
    - ``"clips"``: the same video cut into clips, ``(n, 3, c, H, W)``,
    - ``"caption"``: ``str``, e.g. ``"a red circle moves left and turns clockwise"``,
    - ``"shape"``, ``"color"``, ``"turn"``: ``int`` indices into ``SHAPES``, ``COLORS``, ``TURNS``,
    - ``"directions"``: ``(n,)`` int64 direction of each clip (indices into ``DIRECTIONS``),
    - ``"positions"``: ``(n * c, 2)`` float32 top-left corner ``(y, x)`` of the shape in each frame.

    The shape moves ``speed`` pixels per frame, every frame (also from the last frame of a clip to the
    first of the next, in the next clip's direction), and never reaches a wall.

    Args:
        min_clips, max_clips: the number of clips is drawn uniformly from this range.
        clip_frames: frames per clip.
    """

    def __init__(self, split: str = "train", num_videos: int = 1000, *, clip_frames: int = 4,
                 min_clips: int = 3, max_clips: int = 5, frame_size: int = 32, speed: int = 2,
                 shape_size: int | None = None, seed: int = 0) -> None:
        if not isinstance(clip_frames, int) or clip_frames < 2:
            raise ValueError(f"clip_frames must be an integer >= 2, got {clip_frames!r}.")
        if not 1 <= min_clips <= max_clips:
            raise ValueError(f"need 1 <= min_clips <= max_clips, got {min_clips} and {max_clips}.")
        super().__init__(split, num_videos, max_clips * clip_frames, frame_size, seed)
        self.clip_frames, self.speed = clip_frames, speed
        self.min_clips, self.max_clips = min_clips, max_clips
        self.shape_size = frame_size // 4 if shape_size is None else shape_size
        # The widest path: back and forth never leaves one clip's stretch; turning covers two stretches.
        if 2 * clip_frames * speed + self.shape_size > frame_size:
            raise ValueError(f"a story moving {speed} px/frame for clips of {clip_frames} frames needs "
                             f"{2 * clip_frames * speed + self.shape_size} px of frame; lower speed or "
                             "clip_frames, or enlarge frame_size.")
        self.stamps = [shape_stamp(name, self.shape_size) for name in SHAPES]

    def generate(self, rng: np.random.Generator) -> dict[str, Any]:
        S, s, c = self.frame_size, self.shape_size, self.clip_frames
        shape, color = int(rng.integers(len(SHAPES))), int(rng.integers(len(COLORS)))
        direction, turn = int(rng.integers(len(DIRECTIONS))), int(rng.integers(len(TURNS)))
        num_clips = int(rng.integers(self.min_clips, self.max_clips + 1))
        directions = clip_directions(direction, turn, num_clips)

        # Frame t moves in the direction of its own clip; frame 0 is the start.
        moves = DIRECTION_MOVES[np.repeat(directions, c)] * self.speed  # (T, 2)
        moves[0] = 0
        path = np.cumsum(moves, axis=0)  # (T, 2) offsets from the start
        low, high = -path.min(axis=0), S - s - path.max(axis=0)  # the start keeps the whole path inside
        positions = rng.integers(low, high + 1) + path  # (T, 2)

        frames = np.zeros((num_clips * c, S, S, 3), dtype=np.float32)
        masks = np.zeros((num_clips * c, S, S), dtype=np.int64)
        paint(frames, masks, positions, self.stamps[shape], RGB[color], 1)
        video = torch.from_numpy(np.ascontiguousarray(rearrange(frames, "t h w c -> c t h w")))
        return {
            "video": video,
            "clips": rearrange(video, "c (n t) h w -> n c t h w", t=c),
            "caption": story_caption(shape, color, direction, turn),
            "shape": shape, "color": color, "turn": turn,
            "directions": torch.from_numpy(directions),
            "positions": torch.from_numpy(positions.astype(np.float32)),
        }

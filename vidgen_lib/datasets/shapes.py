"""Moving shapes: coloured squares, circles and triangles on black, with captions and masks.

Two datasets:

- ``MovingShapes``: each shape moves left, right, up or down at constant speed. Start positions
  are drawn so that a shape never reaches a wall within the video, so the caption
  ("a red circle moves left") is true in every frame.
- ``ActionShapes``: an agent shape moved one step per frame by a random discrete action
  (``ACTIONS``), plus by default a distractor shape that bounces around on its own: the part of
  the future that the actions do not explain.

Masks hold object ids: 0 is background and ``k`` is object ``k - 1`` of the item, so the class of
the pixels of object ``k`` is ``item["shape"][k - 1]``. Shapes are drawn without antialiasing:
every non-zero pixel belongs to exactly one object and has exactly its colour.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import torch
from einops import rearrange

from vidgen_lib.datasets.base import SyntheticVideos, bounce_in_box

SHAPES = ("square", "circle", "triangle")
COLORS = ("red", "green", "blue", "yellow", "magenta", "cyan")
RGB = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0], [1, 0, 1], [0, 1, 1]], dtype=np.float32)
DIRECTIONS = ("left", "right", "up", "down")
DIRECTION_MOVES = np.array([[0, -1], [0, 1], [-1, 0], [1, 0]])  # (dy, dx) per direction
ACTIONS = ("stay", "up", "down", "left", "right")
ACTION_MOVES = np.array([[0, 0], [-1, 0], [1, 0], [0, -1], [0, 1]])  # (dy, dx) per action


def shape_stamp(shape: str, size: int) -> np.ndarray:
    """Boolean ``(size, size)`` silhouette of ``shape``, touching all four sides of its box."""
    c = (np.arange(size) + 0.5) / size  # pixel centres in (0, 1)
    y, x = np.meshgrid(c, c, indexing="ij")
    if shape == "square":
        return np.ones((size, size), dtype=bool)
    if shape == "circle":
        return (y - 0.5) ** 2 + (x - 0.5) ** 2 <= 0.25
    if shape == "triangle":  # apex at the top, base along the bottom row
        return np.abs(x - 0.5) <= (y + 0.5 / size) / 2
    raise ValueError(f"shape={shape!r} is not a shape; use one of {SHAPES}.")


def paint(frames: np.ndarray, masks: np.ndarray, corners: np.ndarray, stamp: np.ndarray,
          rgb: np.ndarray, object_id: int) -> None:
    """Draw ``stamp`` ``(s, s)`` in colour ``rgb`` ``(3,)`` with top-left ``corners`` ``(T, 2)``.

    Writes in place into ``frames`` ``(T, H, W, 3)`` and ``masks`` ``(T, H, W)``, over anything
    drawn before.
    """
    T, s = len(corners), len(stamp)
    t = np.broadcast_to(np.arange(T)[:, None, None], (T, s, s))
    rows = np.broadcast_to(corners[:, 0, None, None] + np.arange(s)[None, :, None], (T, s, s))
    cols = np.broadcast_to(corners[:, 1, None, None] + np.arange(s)[None, None, :], (T, s, s))
    inside = np.broadcast_to(stamp, (T, s, s))
    frames[t[inside], rows[inside], cols[inside]] = rgb
    masks[t[inside], rows[inside], cols[inside]] = object_id


def apply_actions(
    start_position: Sequence[float] | np.ndarray | torch.Tensor,
    actions: Sequence[int] | np.ndarray | torch.Tensor,
    frame_size: int,
    shape_size: int,
    step: int,
) -> torch.Tensor:
    """The agent trajectory that ``actions`` produce from ``start_position``.

    Args:
        start_position: top-left corner ``(y, x)`` at frame 0, in pixels.
        actions: ``(T - 1,)`` indices into ``ACTIONS``; action ``t`` moves frame ``t`` to ``t + 1``
            by ``step`` pixels, clipped so the shape stays inside the frame.
    Returns:
        positions ``(T, 2)`` float32, top-left corners ``(y, x)``.
    """
    actions = np.asarray(actions, dtype=np.int64)
    if actions.ndim != 1 or np.any((actions < 0) | (actions >= len(ACTIONS))):
        raise ValueError(f"actions must be a 1-D sequence of indices in [0, {len(ACTIONS)}).")
    position = np.asarray(start_position, dtype=np.float64)
    trajectory = [position]
    for a in actions:
        position = np.clip(position + step * ACTION_MOVES[a], 0, frame_size - shape_size)
        trajectory.append(position)
    return torch.tensor(np.stack(trajectory), dtype=torch.float32)


def wander_in_box(start: np.ndarray, velocity: np.ndarray, num_frames: int, high: float, turn_prob: float,
                  rng: np.random.Generator) -> np.ndarray:
    """Like ``bounce_in_box``, but before each move the point takes, with probability ``turn_prob``, a
    fresh direction uniform on the circle (same speed): a random walk with momentum.

    Args:
        start: ``(2,)`` position at frame 0 inside ``[0, high]``; velocity: ``(2,)`` the first move.
    Returns:
        positions ``(T, 2)``.
    """
    speed = float(np.hypot(*velocity))
    turns = rng.random(num_frames - 1) < turn_prob
    angles = rng.uniform(0, 2 * np.pi, size=num_frames - 1)
    positions, p, v = ([np.array(start, dtype=np.float64)], np.array(start, dtype=np.float64),
                       np.array(velocity))
    for t in range(num_frames - 1):
        if turns[t]:
            v = speed * np.array([np.sin(angles[t]), np.cos(angles[t])])
        p, v = bounce_in_box(p, v, 2, high)
        p, v = p[-1], v[-1]
        positions.append(p.copy())
    return np.stack(positions)


def caption(shape: int, color: int, direction: int) -> str:
    """The sentence for one moving shape, e.g. ``"a red circle moves left"``."""
    return f"a {COLORS[color]} {SHAPES[shape]} moves {DIRECTIONS[direction]}"


def _to_video(frames: np.ndarray) -> torch.Tensor:
    """``(T, H, W, 3)`` frames to a ``(3, T, H, W)`` float32 tensor."""
    return torch.from_numpy(np.ascontiguousarray(rearrange(frames, "t h w c -> c t h w")))


class MovingShapes(SyntheticVideos):
    """Coloured shapes moving in straight lines, with captions and segmentation masks.

    ``dataset[i]`` is a dict (``n = num_shapes``):

    - ``"video"``: ``(3, T, H, W)`` float32 in [0, 1], RGB on black,
    - ``"shape"``, ``"color"``, ``"direction"``: ``(n,)`` int64 indices into ``SHAPES``, ``COLORS``,
      ``DIRECTIONS``,
    - ``"caption"``: ``str``, e.g. ``"a red circle moves left"`` (clauses joined by ``" and "``),
    - ``"masks"``: ``(T, H, W)`` int64 object ids (0 = background, ``k`` = shape ``k - 1``),
    - ``"positions"``: ``(T, n, 2)`` float32 top-left corners ``(y, x)`` in pixels.

    Shapes never reach a wall (start positions leave room for the whole path); later shapes are
    drawn over earlier ones; the colours of one video are all different.

    Args:
        num_shapes: shapes per video, at most ``len(COLORS)``.
        shape_size: side of a shape's box in pixels, default ``frame_size // 4``.
        speed: pixels per frame (an integer, so positions stay on the pixel grid).
    """

    def __init__(
        self,
        split: str = "train",
        num_videos: int = 1000,
        num_frames: int = 16,
        frame_size: int = 32,
        seed: int = 0,
        *,
        num_shapes: int = 1,
        shape_size: int | None = None,
        speed: int = 1,
    ) -> None:
        super().__init__(split, num_videos, num_frames, frame_size, seed)
        shape_size = frame_size // 4 if shape_size is None else shape_size
        if not isinstance(num_shapes, int) or not 1 <= num_shapes <= len(COLORS):
            raise ValueError(f"num_shapes must be an integer in [1, {len(COLORS)}], "
                             f"got {num_shapes!r}.")
        if not isinstance(shape_size, int) or not 3 <= shape_size < frame_size:
            raise ValueError(f"shape_size must be an integer in [3, frame_size), "
                             f"got {shape_size!r}.")
        if not isinstance(speed, int) or speed < 1:
            raise ValueError(f"speed must be a positive integer (pixels per frame), got {speed!r}.")
        if (num_frames - 1) * speed > frame_size - shape_size:
            room = frame_size - shape_size
            raise ValueError(f"a shape moving {speed} px/frame for {num_frames} frames travels "
                             f"{(num_frames - 1) * speed} px, more than the {room} px of room; "
                             "lower speed or num_frames, or enlarge frame_size.")
        self.num_shapes, self.shape_size, self.speed = num_shapes, shape_size, speed
        self.stamps = [shape_stamp(name, shape_size) for name in SHAPES]

    def generate(self, rng: np.random.Generator) -> dict[str, Any]:
        T, S, s, n = self.num_frames, self.frame_size, self.shape_size, self.num_shapes
        shapes = rng.integers(len(SHAPES), size=n)
        colors = rng.choice(len(COLORS), size=n, replace=False)
        directions = rng.integers(len(DIRECTIONS), size=n)

        # Start where the whole straight path, (T - 1) * speed pixels long, stays inside the frame.
        path = DIRECTION_MOVES[directions] * (T - 1) * self.speed  # (n, 2)
        low = np.maximum(0, -path)
        high = S - s - np.maximum(0, path)
        start = rng.integers(low, high + 1)  # (n, 2)
        t = np.arange(T)[:, None, None]
        positions = start[None] + t * self.speed * DIRECTION_MOVES[directions][None]  # (T, n, 2)

        frames = np.zeros((T, S, S, 3), dtype=np.float32)
        masks = np.zeros((T, S, S), dtype=np.int64)
        for k in range(n):
            paint(frames, masks, positions[:, k], self.stamps[shapes[k]], RGB[colors[k]], k + 1)

        return {
            "video": _to_video(frames),  # (3, T, H, W)
            "shape": torch.from_numpy(shapes.astype(np.int64)),
            "color": torch.from_numpy(colors.astype(np.int64)),
            "direction": torch.from_numpy(directions.astype(np.int64)),
            "caption": " and ".join(caption(*attrs) for attrs in zip(shapes, colors, directions)),
            "masks": torch.from_numpy(masks),
            "positions": torch.from_numpy(positions.astype(np.float32)),
        }


class ActionShapes(SyntheticVideos):
    """An agent shape driven by random discrete actions, plus an optional bouncing distractor.

    At each step an action is drawn uniformly from ``ACTIONS``; it moves the agent by ``step``
    pixels, clipped at the walls (a move into a wall leaves the agent against it).
    ``apply_actions`` recomputes the agent trajectory from the actions; ``with_actions`` renders
    an item again under other actions (same shapes, colours, start and distractor).

    ``dataset[i]`` is a dict (object 0 is the agent, object 1 the distractor if any):

    - ``"video"``: ``(3, T, H, W)`` float32 in [0, 1],
    - ``"actions"``: ``(T - 1,)`` int64 indices into ``ACTIONS``; action ``t`` moves frame ``t``
      to frame ``t + 1``,
    - ``"positions"``: ``(T, 2)`` float32 agent top-left corner ``(y, x)`` in pixels,
    - ``"shape"``, ``"color"``: ``(num_objects,)`` int64 indices into ``SHAPES``, ``COLORS``,
    - ``"masks"``: ``(T, H, W)`` int64 object ids (0 background, 1 agent, 2 distractor),
    - ``"distractor_positions"``: ``(T, 2)`` float32 (only with ``distractor=True``), drawn at the
      rounded position.

    The agent is drawn over the distractor, so it is always fully visible.

    Args:
        shape_size: side of a shape's box in pixels, default ``frame_size // 4``.
        step: pixels moved per action, default ``frame_size // 16``.
        distractor: add a second shape that bounces at constant speed in a random direction.
        distractor_speed: its pixels per frame, default ``step``.
        distractor_turn_prob: chance per frame that the distractor takes a fresh random direction
            (same speed) before it moves, as Stochastic Moving MNIST redraws velocities; the default
            0 keeps it on one straight bouncing path.
    """

    def __init__(
        self,
        split: str = "train",
        num_videos: int = 1000,
        num_frames: int = 16,
        frame_size: int = 32,
        seed: int = 0,
        *,
        shape_size: int | None = None,
        step: int | None = None,
        distractor: bool = True,
        distractor_speed: float | None = None,
        distractor_turn_prob: float = 0.0,
    ) -> None:
        super().__init__(split, num_videos, num_frames, frame_size, seed)
        shape_size = frame_size // 4 if shape_size is None else shape_size
        step = max(1, frame_size // 16) if step is None else step
        if not 0 <= distractor_turn_prob <= 1:
            raise ValueError(f"distractor_turn_prob must be in [0, 1], got {distractor_turn_prob!r}.")
        distractor_speed = float(step) if distractor_speed is None else distractor_speed
        if not isinstance(shape_size, int) or not 3 <= shape_size < frame_size:
            raise ValueError(f"shape_size must be an integer in [3, frame_size), "
                             f"got {shape_size!r}.")
        room = frame_size - shape_size
        if not isinstance(step, int) or not 1 <= step <= room:
            raise ValueError(f"step must be an integer in [1, {room}], got {step!r}.")
        if not 0 < distractor_speed < room:
            raise ValueError(f"distractor_speed must be in (0, {room}), got {distractor_speed!r}.")
        self.shape_size, self.step = shape_size, step
        self.distractor, self.distractor_speed = bool(distractor), float(distractor_speed)
        self.distractor_turn_prob = float(distractor_turn_prob)
        self.stamps = [shape_stamp(name, shape_size) for name in SHAPES]

    def with_actions(
        self, index: int, actions: Sequence[int] | np.ndarray | torch.Tensor
    ) -> dict[str, Any]:
        """Item ``index`` rendered again with the agent driven by ``actions`` ``(T - 1,)``."""
        actions = np.asarray(actions, dtype=np.int64)
        if actions.shape != (self.num_frames - 1,):
            raise ValueError(f"actions must have shape ({self.num_frames - 1},), "
                             f"got {actions.shape}.")
        return self.generate(self.rng(index), actions)

    def generate(
        self, rng: np.random.Generator, actions: np.ndarray | None = None
    ) -> dict[str, Any]:
        T, S, s = self.num_frames, self.frame_size, self.shape_size
        num_objects = 2 if self.distractor else 1
        shapes = rng.integers(len(SHAPES), size=num_objects)
        colors = rng.choice(len(COLORS), size=num_objects, replace=False)
        start = rng.integers(0, S - s + 1, size=2)
        drawn = rng.integers(len(ACTIONS), size=T - 1)
        actions = drawn if actions is None else actions
        positions = apply_actions(start, actions, S, s, self.step)  # (T, 2)

        frames = np.zeros((T, S, S, 3), dtype=np.float32)
        masks = np.zeros((T, S, S), dtype=np.int64)
        item: dict[str, Any] = {}
        if self.distractor:
            angle = rng.uniform(0, 2 * np.pi)
            velocity = self.distractor_speed * np.array([np.sin(angle), np.cos(angle)])
            start_other = rng.uniform(0, S - s, size=2)
            if self.distractor_turn_prob > 0:  # no extra draws otherwise: the default videos stay the same
                other = wander_in_box(start_other, velocity, T, S - s, self.distractor_turn_prob, rng)
            else:
                other, _ = bounce_in_box(start_other, velocity, T, S - s)  # (T, 2)
            corners = np.rint(other).astype(np.int64)
            paint(frames, masks, corners, self.stamps[shapes[1]], RGB[colors[1]], object_id=2)
            item["distractor_positions"] = torch.from_numpy(other.astype(np.float32))
        corners = positions.numpy().astype(np.int64)
        paint(frames, masks, corners, self.stamps[shapes[0]], RGB[colors[0]], object_id=1)

        return {
            "video": _to_video(frames),  # (3, T, H, W)
            "actions": torch.from_numpy(np.asarray(actions, dtype=np.int64)),
            "positions": positions,
            "shape": torch.from_numpy(shapes.astype(np.int64)),
            "color": torch.from_numpy(colors.astype(np.int64)),
            "masks": torch.from_numpy(masks),
            **item,
        }


__all__ = ["MovingShapes", "ActionShapes", "apply_actions", "caption", "shape_stamp",
           "SHAPES", "COLORS", "RGB", "DIRECTIONS", "ACTIONS"]

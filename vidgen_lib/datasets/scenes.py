"""Textured shapes with semantic maps and their exact optical flow: the world of Vid2Vid.

A *scene* is ``num_objects`` shapes gliding over a still background and bouncing off the walls. The
semantic map of a frame says which class covers each pixel (``LABELS``: 0 background, 1 square,
2 circle, 3 triangle). It does not say what the pixels look like: the background's colour and each
object's colour and blocky texture are drawn at random per video. So a map alone leaves the
appearance open, and only the earlier frames of the same video fix it.

Objects move by whole pixels, so the optical flow is known exactly. ``flow[:, t]`` is the *backward*
flow of frame t, in pixels, ``(dx, dy)`` per pixel: pixel ``(y, x)`` of frame t shows what was at
``(y + dy, x + dx)`` in frame t - 1. On an object that moved by ``(Δy, Δx)`` it is ``(-Δx, -Δy)``; on
the still background it is 0; ``flow[:, 0]`` is 0. Where frame t - 1 held something else at that spot
(background just uncovered by a moving object, an object that was behind another), following the flow
gives the wrong colour: those pixels are the *occlusions* a warp cannot explain.

A scene is a plain dict of arrays (:func:`render_scene` draws it), so it can be edited and drawn again
with the same textures: :func:`reverse_object`, :func:`swap_class`, :func:`add_object`.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch
from einops import rearrange

from vidgen_lib.datasets.base import SyntheticVideos, bounce_in_box
from vidgen_lib.datasets.shapes import shape_stamp

LABELS = ("background", "square", "circle", "triangle")
Scene = dict[str, np.ndarray]  # classes (T, n), positions (T, n, 2), textures (n, s, s, 3), background (3,)


def random_texture(rng: np.random.Generator, size: int, block: int = 2) -> np.ndarray:
    """An object's look: a random bright colour, darkened on a random half of ``block`` x ``block`` cells.

    Returns ``(size, size, 3)`` float32 in [0, 1] (``size`` a multiple of ``block``).
    """
    colour = rng.uniform(0.35, 1.0, size=3)
    colour[rng.integers(3)] = 1.0  # one channel full: a saturated, clearly visible colour
    cells = rng.random((size // block, size // block)) < 0.5
    shade = np.kron(cells, np.ones((block, block)))  # 1 on the dark cells
    return (colour[None, None] * (1.0 - 0.5 * shade[..., None])).astype(np.float32)


def render_scene(scene: Scene, frame_size: int) -> dict[str, torch.Tensor]:
    """Draw a scene: the video, its semantic maps, object ids and exact backward flow.

    Args:
        scene: ``classes`` ``(T, n)`` int (1..3, the class of each object in each frame; 0: absent),
            ``positions`` ``(T, n, 2)`` int top-left corners ``(y, x)``, ``textures`` ``(n, s, s, 3)``,
            ``background`` ``(3,)``. Objects are drawn in order, later ones over earlier ones.
        frame_size: H = W.
    Returns:
        ``video`` ``(3, T, H, W)`` float32 in [0, 1]; ``labels`` ``(T, H, W)`` int64 class per pixel;
        ``objects`` ``(T, H, W)`` int64 (0 background, k object k - 1); ``flow`` ``(2, T, H, W)``
        float32, the backward flow ``(dx, dy)`` (module docstring).
    """
    classes, positions = np.asarray(scene["classes"]), np.asarray(scene["positions"])
    textures = np.asarray(scene["textures"], dtype=np.float32)
    T, n = classes.shape
    S, s = frame_size, textures.shape[1]
    if positions.min() < 0 or positions.max() > S - s:
        raise ValueError(f"positions must keep each {s}x{s} object inside the {S}x{S} frame.")
    frames = np.broadcast_to(np.asarray(scene["background"], np.float32), (T, S, S, 3)).copy()
    labels = np.zeros((T, S, S), dtype=np.int64)
    objects = np.zeros((T, S, S), dtype=np.int64)
    flow = np.zeros((T, S, S, 2), dtype=np.float32)
    moves = np.diff(positions, axis=0, prepend=positions[:1])  # (T, n, 2): (Δy, Δx) into frame t
    stamps = {c: shape_stamp(LABELS[c], s) for c in range(1, len(LABELS))}
    for t in range(T):
        for k in range(n):
            if classes[t, k] == 0:  # not in this frame
                continue
            y, x = positions[t, k]
            inside = stamps[int(classes[t, k])]
            window = (slice(y, y + s), slice(x, x + s))
            frames[t][window][inside] = textures[k][inside]
            labels[t][window][inside] = classes[t, k]
            objects[t][window][inside] = k + 1
            flow[t][window][inside] = -moves[t, k, ::-1]  # (dx, dy) = -(Δx, Δy)
    return {"video": torch.from_numpy(np.ascontiguousarray(rearrange(frames, "t h w c -> c t h w"))),
            "labels": torch.from_numpy(labels), "objects": torch.from_numpy(objects),
            "flow": torch.from_numpy(np.ascontiguousarray(rearrange(flow, "t h w c -> c t h w")))}


def reverse_object(scene: Scene, k: int, from_frame: int) -> Scene:
    """Object ``k`` turns back at frame ``from_frame``: afterwards it retraces its path (an edited map)."""
    positions = np.array(scene["positions"])
    j = np.arange(len(positions) - from_frame)
    positions[from_frame:, k] = positions[np.clip(from_frame - 2 - j, 0, None), k]
    return {**scene, "positions": positions}


def swap_class(scene: Scene, k: int, new_class: int, from_frame: int) -> Scene:
    """Object ``k`` takes class ``new_class`` (1..3) from frame ``from_frame`` on, same texture and path."""
    if not 1 <= new_class < len(LABELS):
        raise ValueError(f"new_class must be in 1..{len(LABELS) - 1} ({', '.join(LABELS[1:])}), "
                         f"got {new_class}.")
    classes = np.array(scene["classes"])
    classes[from_frame:, k] = new_class
    return {**scene, "classes": classes}


def add_object(scene: Scene, new_class: int, positions: np.ndarray, texture: np.ndarray,
               from_frame: int = 0) -> Scene:
    """A new object on top of the others from frame ``from_frame`` on: ``positions`` ``(T, 2)``, ``texture``
    ``(s, s, 3)``. Before ``from_frame`` it is absent (class 0)."""
    classes = np.full((len(positions), 1), new_class)
    classes[:from_frame] = 0
    classes = np.concatenate([scene["classes"], classes], axis=1)
    return {**scene, "classes": classes,
            "positions": np.concatenate([scene["positions"], np.asarray(positions)[:, None]], axis=1),
            "textures": np.concatenate([scene["textures"], np.asarray(texture)[None]], axis=0)}


class TexturedShapes(SyntheticVideos):
    """Shapes with random colours and textures over a random still background, with maps and flow.

    ``dataset[i]`` is :func:`render_scene` of ``dataset.scene(i)``: ``video`` ``(3, T, H, W)``,
    ``labels`` ``(T, H, W)``, ``objects`` ``(T, H, W)``, ``flow`` ``(2, T, H, W)``.

    Args:
        num_objects: shapes per video (their classes may repeat).
        shape_size: side of an object's box in pixels (even), default ``frame_size // 16 * 5`` (10 at 32).
        max_speed: the largest pixels per frame along each axis; each velocity component is drawn
            from ``-max_speed..max_speed`` and never both are 0, so every object moves.
    """

    def __init__(self, split: str = "train", num_videos: int = 1000, num_frames: int = 12,
                 frame_size: int = 32, seed: int = 0, *, num_objects: int = 2, shape_size: int | None = None,
                 max_speed: int = 2) -> None:
        super().__init__(split, num_videos, num_frames, frame_size, seed)
        shape_size = frame_size // 16 * 5 if shape_size is None else shape_size
        if not isinstance(shape_size, int) or shape_size % 2 or not 4 <= shape_size < frame_size:
            raise ValueError(f"shape_size must be an even integer in [4, frame_size), got {shape_size!r}.")
        if not isinstance(num_objects, int) or num_objects < 1:
            raise ValueError(f"num_objects must be a positive integer, got {num_objects!r}.")
        if not isinstance(max_speed, int) or not 1 <= max_speed < frame_size - shape_size:
            raise ValueError(f"max_speed must be an integer in [1, {frame_size - shape_size}), "
                             f"got {max_speed!r}.")
        self.num_objects, self.shape_size, self.max_speed = num_objects, shape_size, max_speed

    def scene(self, index: int) -> Scene:
        """The description of video ``index``, to edit and draw with :func:`render_scene`."""
        rng, T, n, s = self.rng(index), self.num_frames, self.num_objects, self.shape_size
        high = self.frame_size - s
        speeds = np.arange(-self.max_speed, self.max_speed + 1)
        velocity = rng.choice(speeds, size=(n, 2))
        still = ~velocity.any(axis=1)
        velocity[still, rng.integers(2)] = self.max_speed  # every object moves
        start = rng.integers(0, high + 1, size=(n, 2))
        positions, _ = bounce_in_box(start, velocity, T, high)  # whole pixels: integer start and moves
        return {"classes": np.repeat(rng.integers(1, len(LABELS), size=(1, n)), T, axis=0),
                "positions": np.rint(positions).astype(np.int64),
                "textures": np.stack([random_texture(rng, s) for _ in range(n)]),
                "background": rng.uniform(0.0, 0.3, size=3).astype(np.float32)}

    def __getitem__(self, index: int) -> dict[str, Any]:
        return render_scene(self.scene(index), self.frame_size)


__all__ = ["TexturedShapes", "LABELS", "render_scene", "random_texture", "reverse_object", "swap_class",
           "add_object"]
